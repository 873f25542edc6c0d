"""Starting and, above all, always stopping an emulator child process.

The child runs in its own session (so its own process group): stopping signals the whole group, so a
wrapper such as ``npx`` (npm → sh → node) cannot leave its ``node`` grandchild behind, which is what a
plain ``Popen(["npx", …]).terminate()`` does. Every live child is also known to one reaper that stops
it at interpreter exit and on SIGINT / SIGTERM / SIGHUP; on Linux the child also gets SIGTERM if the
process that started it dies without cleaning up (even on SIGKILL).
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

BANNER = re.compile(r"listening on (?P<url>https?://\S+)(?:\s+workspace=(?P<workspace>\S+))?(?:\s+api_key=(?P<api_key>\S+))?")
# Variables the emulator reads that would change what the fixture starts; flags cover the rest.
_CHILD_ENV_DROPPED = ("EMULATOR_SEED_FILE", "EMULATOR_ADMIN_TOKEN", "EMULATOR_PUBLIC_URL", "EMULATOR_QUIET")
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class EmulatorStartError(RuntimeError):
    """The emulator did not start; the message carries its command and the end of its output."""


@dataclass
class EmulatorProcess:
    """One started emulator. ``stop()`` is idempotent and safe to call from a signal handler."""

    command: List[str]
    popen: subprocess.Popen[bytes]
    log_path: Path
    base_url: str = ""
    workspace: str = ""
    api_key: str = ""
    _stopped: bool = field(default=False, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def pgid(self) -> int:
        # start_new_session makes the child a session and group leader: its group id is its pid.
        return self.popen.pid

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to the whole group, wait up to ``timeout`` s, then SIGKILL whatever is left of it."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        try:
            _signal_group(self.pgid, signal.SIGTERM)
            if not _wait_group(self.popen, self.pgid, timeout):
                _signal_group(self.pgid, signal.SIGKILL)
                _wait_group(self.popen, self.pgid, 5.0)
        except BaseException:
            # Interrupted while waiting (a second Ctrl-C): do not leave the group to chance.
            _signal_group(self.pgid, signal.SIGKILL)
            raise
        finally:
            REAPER.forget(self)
            shutil.rmtree(self.log_path.parent, ignore_errors=True)


def start_emulator(
    command: Sequence[str],
    args: Sequence[str] = (),
    *,
    cwd: Optional[str] = None,
    env: Optional[Dict[str, str]] = None,
    startup_timeout: float = 30.0,
) -> EmulatorProcess:
    """Runs ``command + args`` (e.g. ``["node", "bin/roboflow-batch-emulator.js"]`` + ``["--port", "0", …]``),
    waits for its "listening on URL" line and for ``GET /health`` 200. On any failure, including
    KeyboardInterrupt while waiting, the child's group is stopped before the error propagates."""
    if os.name != "posix":
        raise EmulatorStartError("starting the emulator needs a POSIX system (Linux, macOS); use --roboflow-emulator-url instead")
    full = [*command, *args]
    log_dir = Path(tempfile.mkdtemp(prefix="roboflow-emulator-"))
    log_path = log_dir / "output.log"
    child_env = {k: v for k, v in (os.environ if env is None else env).items() if k not in _CHILD_ENV_DROPPED}
    with open(log_path, "wb") as log:
        try:
            popen = subprocess.Popen(
                full, cwd=cwd, env=child_env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent(os.getpid()),
            )
        except OSError as err:
            shutil.rmtree(log_dir, ignore_errors=True)
            raise EmulatorStartError(f"could not run {full!r}: {err}") from err
    proc = EmulatorProcess(command=full, popen=popen, log_path=log_path)
    try:
        REAPER.track(proc)
        match = _wait_for_banner(proc, time.monotonic() + startup_timeout)
        proc.base_url = match.group("url").rstrip("/")
        proc.workspace = match.group("workspace") or ""
        proc.api_key = match.group("api_key") or ""
        _wait_for_health(proc, time.monotonic() + startup_timeout)
    except EmulatorStartError:
        proc.stop(timeout=5.0)
        raise
    except Exception as err:
        output = proc.output()
        proc.stop(timeout=5.0)
        raise EmulatorStartError(f"{full!r} failed to start: {err}\n{_tail(output)}") from err
    except BaseException:
        proc.stop(timeout=5.0)
        raise
    return proc


def _wait_for_banner(proc: EmulatorProcess, deadline: float) -> "re.Match[str]":
    while True:
        text = proc.output()
        for line in text.splitlines(keepends=True):
            match = BANNER.search(line)
            if match and line.endswith("\n"):
                return match
        code = proc.popen.poll()
        if code is not None:
            raise EmulatorStartError(f"{proc.command!r} exited with code {code} before it was listening\n{_tail(proc.output())}")
        if time.monotonic() > deadline:
            raise EmulatorStartError(f"{proc.command!r} printed no 'listening on URL' line in time\n{_tail(text)}")
        time.sleep(0.02)


def _wait_for_health(proc: EmulatorProcess, deadline: float) -> None:
    last: Any = None
    while True:
        try:
            with _NO_PROXY.open(proc.base_url + "/health", timeout=5) as res:
                if res.status == 200:
                    return
                last = res.status
        except OSError as err:
            last = err
        if proc.popen.poll() is not None:
            raise EmulatorStartError(f"{proc.command!r} exited with code {proc.popen.returncode} before /health answered\n{_tail(proc.output())}")
        if time.monotonic() > deadline:
            raise EmulatorStartError(f"{proc.base_url}/health did not answer 200 in time (last: {last})\n{_tail(proc.output())}")
        time.sleep(0.02)


def _tail(text: str, lines: int = 30) -> str:
    return "--- emulator output ---\n" + "\n".join(text.splitlines()[-lines:])


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_group(popen: subprocess.Popen[bytes], pgid: int, timeout: float) -> bool:
    """Waits until the leader is reaped and no live (non-zombie) member of the group is left."""
    deadline = time.monotonic() + timeout
    try:
        popen.wait(timeout=max(0.0, timeout))
    except subprocess.TimeoutExpired:
        return False
    while group_alive(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` still runs. Zombies do not count: a grandchild handed to
    an init that is slow to reap (common in containers) is already dead."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def _die_with_parent(parent: int) -> Optional[Callable[[], None]]:
    """Linux: the child gets SIGTERM when its parent dies, even by SIGKILL (PR_SET_PDEATHSIG).
    The libc handle is looked up here, before the fork, so the child only makes the call."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(1, int(signal.SIGTERM), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl ran
            os._exit(1)

    return preexec


class _Reaper:
    """Stops every live emulator at interpreter exit and on SIGINT / SIGTERM / SIGHUP, then lets the
    signal do what it did before (KeyboardInterrupt for SIGINT, so pytest still reports and tears down).
    Signal handlers are installed while at least one emulator runs, and only from the main thread."""

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

    def __init__(self) -> None:
        self._live: Dict[int, EmulatorProcess] = {}
        self._previous: Dict[int, Any] = {}
        self._lock = threading.RLock()
        atexit.register(self.stop_all)

    def track(self, proc: EmulatorProcess) -> None:
        with self._lock:
            self._live[id(proc)] = proc
            if threading.current_thread() is threading.main_thread() and not self._previous:
                for sig in self.SIGNALS:
                    self._previous[sig] = signal.signal(sig, self._on_signal)

    def forget(self, proc: EmulatorProcess) -> None:
        with self._lock:
            self._live.pop(id(proc), None)
            if self._live or not self._previous or threading.current_thread() is not threading.main_thread():
                return
            for sig, previous in self._previous.items():
                if signal.getsignal(sig) == self._on_signal:
                    signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
            self._previous.clear()

    def stop_all(self) -> None:
        with self._lock:
            live = list(self._live.values())
        for proc in live:
            proc.stop(timeout=5.0)

    def _on_signal(self, signum: int, frame: Any) -> None:
        previous = self._previous.get(signum, signal.SIG_DFL)
        self.stop_all()
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            # The default action (end the process): restore it and send the signal again.
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)


# One per interpreter: atexit and signal handlers are process-wide by nature.
REAPER = _Reaper()
