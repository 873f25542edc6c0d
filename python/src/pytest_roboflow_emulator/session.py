"""One emulator for a pytest session: where its command comes from, starting or connecting, pointing
the official client at it (API_BASE_URL / ROBOFLOW_API_KEY), resetting it to the seed, stopping it."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, cast

from .client import EmulatorClient
from .process import EmulatorProcess, EmulatorStartError, start_emulator
from .shapes import ClockState, ResetResult, Seed

PACKAGE = "roboflow-batch-emulator"
BIN_JS = Path("bin") / "roboflow-batch-emulator.js"
CLIENT_ENV = ("API_BASE_URL", "ROBOFLOW_API_KEY")


@dataclass(frozen=True)
class Settings:
    url: Optional[str] = None
    dir: Optional[Path] = None
    command: Optional[str] = None
    seed: Optional[Path] = None
    start: str = "lazy"
    time_scale: str = "max"
    api_key: Optional[str] = None
    admin_token: Optional[str] = None
    startup_timeout: float = 60.0
    args: str = ""
    rootdir: Path = field(default_factory=Path.cwd)


def find_command(settings: Settings) -> List[str]:
    """The emulator's command: ``command``, else ``dir``, else the nearest node_modules/.bin or
    checkout above the rootdir or the working directory, else ``npx roboflow-batch-emulator``."""
    if settings.command:
        return shlex.split(settings.command)
    if settings.dir is not None:
        script = settings.dir / BIN_JS
        if not script.is_file():
            raise EmulatorStartError(f"{script} does not exist: --roboflow-emulator-dir must name a checkout or the installed {PACKAGE} package")
        return [_node(), str(script)]
    for start in dict.fromkeys((settings.rootdir.resolve(), Path.cwd().resolve())):
        for folder in (start, *start.parents):
            local_bin = folder / "node_modules" / ".bin" / PACKAGE
            if local_bin.exists():
                return [str(local_bin)]
            if (folder / BIN_JS).is_file() and _package_name(folder / "package.json") == PACKAGE:
                return [_node(), str(folder / BIN_JS)]
    return ["npx", PACKAGE]


def _node() -> str:
    node = shutil.which("node")
    if not node:
        raise EmulatorStartError("Node.js (20 or newer) is not on PATH; install it, or use --roboflow-emulator-url")
    return node


def _package_name(package_json: Path) -> Optional[str]:
    try:
        name = json.loads(package_json.read_text()).get("name")
        return name if isinstance(name, str) else None
    except (OSError, ValueError, AttributeError):
        return None


class RunningEmulator:
    """What the fixtures hand to tests: where the emulator is, its key, and its control client."""

    def __init__(self, controls: EmulatorClient, process: Optional[EmulatorProcess], seed: Optional[Dict[str, Any]], clock: ClockState) -> None:
        self.controls = controls
        self.process = process
        self.seed = seed
        self._clock = clock

    @property
    def base_url(self) -> str:
        return self.controls.base_url

    @property
    def api_key(self) -> str:
        return self.controls.api_key

    @property
    def workspace(self) -> str:
        return self.controls.workspace

    @property
    def pid(self) -> Optional[int]:
        """The started child's pid (None when connected to one started elsewhere)."""
        return self.process.pid if self.process else None

    @property
    def env(self) -> Dict[str, str]:
        """The variables the official client reads, for a subprocess: ``{**os.environ, **emulator.env}``."""
        return {"API_BASE_URL": self.base_url, "ROBOFLOW_API_KEY": self.api_key}

    def reset(self) -> ResetResult:
        """Back to the session's start: everything emptied, the seed applied again, and the clock back
        in its start-up mode (a reset leaves the clock alone; its time only moves forward)."""
        result = self.controls.reset(reseed=True)
        if self.process is None and self.seed is not None:
            self.controls.seed(cast(Seed, self.seed))  # connected: the server has no --seed of ours to reapply
        now = self.controls.clock.get()
        if (now["mode"], now["scale"]) != (self._clock["mode"], self._clock["scale"]):
            self.controls.clock.set(self._clock["mode"], self._clock["scale"] if self._clock["mode"] == "scaled" else None)
        return result

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


class EmulatorSession:
    """Owns the session's emulator: made on first ``get()``, stopped and the environment restored on ``close()``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._emulator: Optional[RunningEmulator] = None
        self._error: Optional[BaseException] = None
        self._saved_env: Dict[str, Optional[str]] = {}

    @property
    def started(self) -> bool:
        return self._emulator is not None

    def get(self) -> RunningEmulator:
        if self._emulator is None:
            if self._error is not None:
                raise self._error
            try:
                self._emulator = self._connect() if self.settings.url else self._start()
            except Exception as err:
                self._error = err
                raise
            self.point_client_env()
        return self._emulator

    def point_client_env(self) -> None:
        """Sets API_BASE_URL / ROBOFLOW_API_KEY (the official client reads them once, at import)."""
        emu = self._emulator
        if emu is None:
            return
        for name, value in emu.env.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value
        imported = getattr(sys.modules.get("inference_cli.lib.env"), "API_BASE_URL", None)
        if imported is not None and imported != emu.base_url:
            warnings.warn(
                f"inference_cli was imported before the emulator started and keeps API_BASE_URL={imported}; import it inside "
                "tests, or start the emulator early (--roboflow-emulator-start=early)",
                stacklevel=2,
            )

    def close(self) -> None:
        emu, self._emulator = self._emulator, None
        try:
            if emu is not None:
                emu.stop()
        finally:
            for name, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            self._saved_env.clear()

    def _seed(self) -> Optional[Dict[str, Any]]:
        if self.settings.seed is None:
            return None
        try:
            seed = json.loads(self.settings.seed.read_text())
        except (OSError, ValueError) as err:
            raise EmulatorStartError(f"cannot read the seed file {self.settings.seed}: {err}") from err
        if not isinstance(seed, dict):
            raise EmulatorStartError(f"the seed file {self.settings.seed} must hold a JSON object")
        return seed

    def _start(self) -> RunningEmulator:
        s = self.settings
        seed = self._seed()
        args = ["--host", "127.0.0.1", "--port", "0", "--data-dir", ":memory:", "--time-scale", s.time_scale]
        if s.seed is not None:
            args += ["--seed", str(s.seed.resolve())]
        if s.api_key:
            args += ["--api-key", s.api_key]
        if s.admin_token:
            args += ["--admin-token", s.admin_token]
        args += shlex.split(s.args)
        proc = start_emulator(find_command(s), args, cwd=str(s.rootdir), startup_timeout=s.startup_timeout)
        try:
            controls = EmulatorClient(proc.base_url, api_key=proc.api_key or s.api_key or "emulator-api-key",
                                      workspace=proc.workspace or "emulator-workspace", admin_token=s.admin_token)
            return RunningEmulator(controls, proc, seed, controls.clock.get())
        except BaseException:
            proc.stop()
            raise

    def _connect(self) -> RunningEmulator:
        s = self.settings
        assert s.url is not None
        api_key = s.api_key or "emulator-api-key"
        probe = EmulatorClient(s.url, api_key=api_key, admin_token=s.admin_token)
        try:
            workspace = probe.api("GET", "/")["workspace"]  # the official client's own discovery call
            clock = probe.clock.get()
        except Exception as err:
            raise EmulatorStartError(f"no emulator answers at {s.url} (API key {api_key!r}): {err}") from err
        controls = EmulatorClient(s.url, api_key=api_key, workspace=workspace, admin_token=s.admin_token)
        return RunningEmulator(controls, None, self._seed(), clock)
