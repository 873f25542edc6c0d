"""pytest plugin and typed control client for roboflow-batch-emulator.

Fixtures (loaded through the ``pytest11`` entry point): ``roboflow_emulator`` (session) and
``emulator`` (reset to the session's seed before each test). See README.md.
"""

from .client import Clock, ControlApiError, EmulatorClient, Faults, Receiver, VerificationError, Webhooks
from .images import png_bytes
from .process import EmulatorProcess, EmulatorStartError, start_emulator
from .session import RunningEmulator

__version__ = "0.1.0"
__all__ = [
    "Clock", "ControlApiError", "EmulatorClient", "EmulatorProcess", "EmulatorStartError", "Faults", "Receiver",
    "RunningEmulator", "VerificationError", "Webhooks", "png_bytes", "start_emulator",
]
