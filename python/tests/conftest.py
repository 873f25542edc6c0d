"""Shared helpers: where the emulator and the official client are, and whether a process still runs."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]
EMULATOR_DIR = Path(os.environ.get("ROBOFLOW_EMULATOR_DIR") or REPO)
REAL_CLIENT_DIR = Path(os.environ.get("RF_REAL_CLIENT_DIR") or REPO.parent / "shared" / "real-client")
BIN_JS = EMULATOR_DIR / "bin" / "roboflow-batch-emulator.js"

# Inner pytest runs (pytester) find the emulator the same way.
os.environ.setdefault("ROBOFLOW_EMULATOR_DIR", str(EMULATOR_DIR))


def running(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def running_emulator(pid: int) -> bool:
    """Whether ``pid`` is still a live roboflow emulator (a reused pid running something else is not)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return running(pid) and b"roboflow-batch-emulator" in cmdline


def processes_matching(marker: str) -> list:
    """Live processes whose command line contains ``marker`` (what `pgrep -f marker` lists)."""
    found = []
    for cmd in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in cmd.read_bytes() and running(int(cmd.parent.name)):
                found.append(int(cmd.parent.name))
        except OSError:
            continue
    return [pid for pid in found if pid != os.getpid()]


def eventually(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.05)


def read_info(path: Path, timeout: float = 60.0) -> Dict[str, Any]:
    """Waits for an inner test to write its emulator's details as JSON."""

    def load() -> Optional[Dict[str, Any]]:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    return eventually(load, timeout, f"{path} written by the inner test")


# Written into inner test files: records the emulator's pid and URL for the outer test to check.
RECORD = '''
import json, os
from pathlib import Path

def record(emulator, name="emulator.json"):
    Path(name).write_text(json.dumps({"pid": emulator.pid, "pgid": os.getpgid(emulator.pid) if emulator.pid else None,
                                      "url": emulator.base_url, "env": os.environ.get("API_BASE_URL")}))
'''


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester whose inner test files can ``from record_helper import record``."""
    pytester.makepyfile(record_helper=RECORD)
    return pytester


def run_inner(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """An inner pytest run in a subprocess (own signal handlers, own emulator), bounded in time."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=180)
