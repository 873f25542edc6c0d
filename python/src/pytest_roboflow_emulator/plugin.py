"""The pytest plugin (entry point ``pytest11``): options, and the fixtures ``roboflow_emulator``
(one emulator per session) and ``emulator`` (the same one, reset to the session's seed before the test)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import pytest

from .process import EmulatorStartError
from .session import EmulatorSession, RunningEmulator, Settings

# (option suffix, environment variable, help). Precedence: command line, then environment, then ini.
OPTIONS = (
    ("url", "ROBOFLOW_EMULATOR_URL", "connect to an emulator already running at this base URL (e.g. a Docker container) instead of starting one"),
    ("dir", "ROBOFLOW_EMULATOR_DIR", "folder of a checkout or of the installed npm package: runs node DIR/bin/roboflow-batch-emulator.js"),
    ("command", "ROBOFLOW_EMULATOR_COMMAND", "command that starts the emulator, as shell words (e.g. 'npx roboflow-batch-emulator')"),
    ("seed", "ROBOFLOW_EMULATOR_SEED", "seed file (JSON, as --seed): loaded at start and restored before every test that uses `emulator`"),
    ("start", "ROBOFLOW_EMULATOR_START", "lazy (default): when a test first asks for it; early: at pytest_configure, before test modules are imported"),
    ("time-scale", "ROBOFLOW_EMULATOR_TIME_SCALE", "emulator --time-scale (default max: nothing waits)"),
    ("api-key", "ROBOFLOW_EMULATOR_API_KEY", "API key (default emulator-api-key)"),
    ("admin-token", "ROBOFLOW_EMULATOR_ADMIN_TOKEN", "admin token of the /_emulator controls (passed as --admin-token when started here)"),
    ("startup-timeout", "ROBOFLOW_EMULATOR_STARTUP_TIMEOUT", "seconds to wait for it to answer (default 60)"),
    ("args", "ROBOFLOW_EMULATOR_ARGS", "more flags for the emulator, as shell words"),
)
METAVARS = {"url": "URL", "dir": "DIR", "command": "COMMAND", "seed": "FILE", "start": "lazy|early", "time-scale": "SCALE", "api-key": "KEY",
            "admin-token": "TOKEN", "startup-timeout": "SECONDS", "args": "ARGS"}
SESSION_KEY = pytest.StashKey[EmulatorSession]()
# The run's contract report, read just before the session's emulator stops (strict contract only).
REPORT_KEY = pytest.StashKey[Dict[str, Any]]()
STRICT_ENV = "ROBOFLOW_EMULATOR_STRICT_CONTRACT"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("roboflow-emulator", "Roboflow batch emulator")
    for name, env, help_text in OPTIONS:
        group.addoption(f"--roboflow-emulator-{name}", dest=_dest(name), metavar=METAVARS[name], default=None, help=f"{help_text} [env {env}]")
        parser.addini(f"roboflow_emulator_{name.replace('-', '_')}", f"{help_text} [env {env}]", default=None)
    strict_help = ("fail the session when the emulator's contract report holds a violation: a request the real service would refuse "
                   "or treat differently (invalid body, unknown field, deprecated option, other workspace, expired URL), or a failed webhook delivery")
    group.addoption("--roboflow-emulator-strict-contract", dest="roboflow_emulator_strict_contract", action="store_true", default=False,
                    help=f"{strict_help} [env {STRICT_ENV}=1]")
    parser.addini("roboflow_emulator_strict_contract", f"{strict_help} [env {STRICT_ENV}=1]", type="bool", default=False)


def strict_contract(config: pytest.Config) -> bool:
    """--roboflow-emulator-strict-contract, else ROBOFLOW_EMULATOR_STRICT_CONTRACT, else the ini setting."""
    if config.getoption("roboflow_emulator_strict_contract", False):
        return True
    env = os.environ.get(STRICT_ENV)
    if env:
        return env.strip().lower() in ("1", "true", "yes", "on")
    return bool(config.getini("roboflow_emulator_strict_contract"))


def pytest_configure(config: pytest.Config) -> None:
    session = EmulatorSession(settings_from(config))
    config.stash[SESSION_KEY] = session
    if session.settings.start not in ("lazy", "early"):
        raise pytest.UsageError(f"--roboflow-emulator-start must be lazy or early, not {session.settings.start!r}")
    # Early: before collection imports test modules, so a module-level `import inference_cli…` sees
    # API_BASE_URL. Not for --help / --version, nor in an xdist controller (its workers start their own).
    distributed = config.getoption("dist", "no") != "no" and not hasattr(config, "workerinput")
    if session.settings.start == "early" and not (config.option.help or config.option.version or distributed):
        try:
            session.get()
        except EmulatorStartError as err:
            pytest.exit(f"roboflow emulator: {err}", returncode=pytest.ExitCode.INTERNAL_ERROR)


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is not None:
        session.close()


def pytest_report_header(config: pytest.Config) -> Optional[str]:
    session = config.stash.get(SESSION_KEY, None)
    if session is None or not session.started:
        return None
    emu = session.get()
    return f"roboflow emulator: {emu.base_url} (workspace {emu.workspace}, pid {emu.pid or 'external'})"


@pytest.fixture(scope="session")
def roboflow_emulator(pytestconfig: pytest.Config) -> Iterator[RunningEmulator]:
    """The session's emulator, started (or connected) once; API_BASE_URL and ROBOFLOW_API_KEY point at it.
    Stopped, whole process group, when the session ends."""
    session = pytestconfig.stash[SESSION_KEY]
    strict = strict_contract(pytestconfig)
    try:
        emulator = session.get()
        if strict:
            emulator.controls.clear_contract_report()  # the report covers this session's tests only
        yield emulator
    finally:
        if strict and session.started:
            pytestconfig.stash[REPORT_KEY] = _read_report(session.get())
        session.close()


def _read_report(emulator: RunningEmulator) -> Dict[str, Any]:
    try:
        return dict(emulator.controls.contract_report())
    except Exception as err:  # an emulator that cannot answer fails the strict check too
        return {"summary": {"violations": 1}, "text": f"the contract report could not be read: {err}"}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    report = session.config.stash.get(REPORT_KEY, None)
    if report and report.get("summary", {}).get("violations", 0) > 0 and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    report = config.stash.get(REPORT_KEY, None)
    if not report:
        return
    violations = report.get("summary", {}).get("violations", 0)
    terminalreporter.section("roboflow emulator contract", sep="=", red=bool(violations), green=not violations)
    terminalreporter.line(str(report.get("text", "")))
    if violations:
        terminalreporter.line(f"--roboflow-emulator-strict-contract: {violations} violation(s); the session fails.", red=True)


@pytest.fixture
def emulator(roboflow_emulator: RunningEmulator) -> RunningEmulator:
    """The session's emulator, reset to the session's seed (and clock mode) before this test."""
    roboflow_emulator.reset()
    os.environ.update(roboflow_emulator.env)  # a previous test may have changed them
    return roboflow_emulator


def settings_from(config: pytest.Config) -> Settings:
    here = Path(config.invocation_params.dir)
    ini_dir = config.inipath.parent if config.inipath else config.rootpath

    def value(name: str, env: str) -> "tuple[Optional[str], Path]":
        cli = config.getoption(_dest(name))
        if cli not in (None, ""):
            return str(cli), here
        if os.environ.get(env):
            return os.environ[env], here
        ini = config.getini(f"roboflow_emulator_{name.replace('-', '_')}")
        return (str(ini) if ini not in (None, "", []) else None), ini_dir

    got = {name: value(name, env) for name, env, _ in OPTIONS}

    def path(name: str) -> Optional[Path]:
        raw, base = got[name]
        return None if raw is None else (base / os.path.expanduser(raw)).resolve()

    def text(name: str, default: str = "") -> str:
        return got[name][0] or default

    try:
        timeout = float(text("startup-timeout", "60"))
    except ValueError:
        raise pytest.UsageError(f"--roboflow-emulator-startup-timeout must be a number of seconds, not {text('startup-timeout')!r}") from None
    return Settings(
        url=got["url"][0], dir=path("dir"), command=got["command"][0], seed=path("seed"), start=text("start", "lazy"),
        time_scale=text("time-scale", "max"), api_key=got["api-key"][0], admin_token=got["admin-token"][0],
        startup_timeout=timeout, args=text("args"), rootdir=config.rootpath,
    )


def _dest(name: str) -> str:
    return "roboflow_emulator_" + name.replace("-", "_")
