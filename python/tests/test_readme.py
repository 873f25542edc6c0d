"""README.md runs as written: every `pytest …` line of its bash blocks runs its example test files
(the python blocks that start with `# test_….py`). `inference` is the official client's copy through
a two-line shim on PATH (the `inference-cli` package itself is not installed here); `pip install ./python`
is run by run-tests.sh."""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path

import pytest
from conftest import BIN_JS, EMULATOR_DIR, REAL_CLIENT_DIR, run_inner

PYTHON_DIR = Path(__file__).resolve().parents[1]
README = (PYTHON_DIR / "README.md").read_text()
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, re.S)
EXAMPLES = {m.group(1): code for lang, code in BLOCKS if lang == "python" for m in [re.match(r"# (test_\w+\.py)\n", code)] if m}
COMMANDS = [line.strip() for lang, code in BLOCKS if lang == "bash" for line in code.splitlines() if line.strip()]
EXAMPLE_TESTS = sum(len(re.findall(r"^def test_", code, re.M)) for code in EXAMPLES.values())


def test_the_readme_has_examples_and_commands():
    assert set(EXAMPLES) == {"test_upload.py", "test_controls.py"} and EXAMPLE_TESTS == 4
    assert "pip install ./python" in COMMANDS
    assert re.search(r" -m pip install .* \./python ", (PYTHON_DIR / "run-tests.sh").read_text())  # runs `pip install ./python`


@pytest.fixture
def readme_project(pytester, monkeypatch, tmp_path_factory):
    """A project folder holding the README's example tests, with `inference` on PATH."""
    shim_dir = tmp_path_factory.mktemp("shim")
    shim = shim_dir / "inference"
    shim.write_text(f'#!/bin/sh\n[ "$1" = rf-cloud ] && shift\nexec {shlex.quote(sys.executable)} {shlex.quote(str(REAL_CLIENT_DIR / "rf_cloud.py"))} "$@"\n')
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim_dir}{os.pathsep}{os.environ['PATH']}")
    for name, code in EXAMPLES.items():
        (pytester.path / name).write_text(code)
    return pytester


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.startswith("pytest")])
def test_readme_command(readme_project, monkeypatch, roboflow_emulator, command):
    line = command.replace("/path/to/roboflow-batch-emulator", str(EMULATOR_DIR)).replace("http://127.0.0.1:9010", roboflow_emulator.base_url)
    if "tests/seed.json" in line:
        (readme_project.path / "tests").mkdir()
        (readme_project.path / "tests" / "seed.json").write_text('{"workspaces": [{"id": "team-a", "apiKeys": ["key-a"]}]}')
    if line == "pytest":
        # Found with no setting at all, as an npm devDependency: node_modules/.bin/roboflow-batch-emulator.
        monkeypatch.delenv("ROBOFLOW_EMULATOR_DIR")
        local_bin = readme_project.path / "node_modules" / ".bin" / "roboflow-batch-emulator"
        local_bin.parent.mkdir(parents=True)
        local_bin.symlink_to(BIN_JS)
    result = run_inner(readme_project, *shlex.split(line)[1:])
    result.assert_outcomes(passed=EXAMPLE_TESTS)
