"""The fixtures start the emulator, point the official client at it, and always stop it: after the
session, after failing tests and fixtures, on a start-up that goes wrong, and on SIGINT / SIGTERM /
SIGKILL of the pytest process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import BIN_JS, eventually, processes_matching, read_info, run_inner, running, running_emulator

from pytest_roboflow_emulator import EmulatorStartError, start_emulator
from pytest_roboflow_emulator.process import group_alive
from pytest_roboflow_emulator.session import Settings, find_command

EMULATOR_ARGS = ["--port", "0", "--data-dir", ":memory:", "--time-scale", "max"]


def test_session_emulator_answers_and_the_client_env_points_at_it(roboflow_emulator):
    assert roboflow_emulator.controls.health()
    assert roboflow_emulator.base_url.startswith("http://127.0.0.1:")
    assert os.environ["API_BASE_URL"] == roboflow_emulator.base_url
    assert os.environ["ROBOFLOW_API_KEY"] == roboflow_emulator.api_key == "emulator-api-key"
    assert roboflow_emulator.workspace == "emulator-workspace"
    assert running_emulator(roboflow_emulator.pid)
    # Its own session and process group, so the whole group can be signalled.
    assert os.getpgid(roboflow_emulator.pid) == os.getsid(roboflow_emulator.pid) == roboflow_emulator.pid


def test_nothing_left_after_a_session_with_a_failing_test(inner):
    inner.makepyfile(
        test_inner="""
        from record_helper import record

        def test_fails(emulator):
            record(emulator)
            assert emulator.controls.health()
            assert False, "on purpose"

        def test_passes(emulator):
            assert emulator.controls.health()
        """
    )
    result = run_inner(inner)
    result.assert_outcomes(failed=1, passed=1)
    info = read_info(inner.path / "emulator.json", timeout=1)
    assert info["env"] == info["url"]
    assert not running_emulator(info["pid"])
    assert not group_alive(info["pgid"])


def test_nothing_left_when_fixtures_fail_in_setup_and_teardown(inner):
    inner.makepyfile(
        test_inner="""
        import pytest
        from record_helper import record

        @pytest.fixture
        def broken_setup(emulator):
            record(emulator)
            raise RuntimeError("setup fails on purpose")

        @pytest.fixture
        def broken_teardown(emulator):
            yield emulator
            raise RuntimeError("teardown fails on purpose")

        def test_setup(broken_setup):
            pass

        def test_teardown(broken_teardown):
            assert broken_teardown.controls.health()
        """
    )
    result = run_inner(inner)
    result.assert_outcomes(passed=1, errors=2)
    info = read_info(inner.path / "emulator.json", timeout=1)
    assert not running_emulator(info["pid"])
    assert not group_alive(info["pgid"])


def test_a_start_that_never_becomes_ready_stops_the_whole_group(inner):
    # A stand-in "emulator" that starts a grandchild and never says it is listening.
    marker = f"rf-emu-hang-{uuid.uuid4().hex}"
    inner.makepyfile(
        hang="""
        import subprocess, sys, time
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", sys.argv[1]])
        time.sleep(300)
        """,
        test_inner="""
        def test_uses_it(emulator):
            pass

        def test_second_user_gets_the_same_error(emulator):
            pass
        """,
    )
    os.environ["ROBOFLOW_EMULATOR_COMMAND"] = f"{sys.executable} hang.py {marker}"
    try:
        result = run_inner(inner, "--roboflow-emulator-startup-timeout=2")
    finally:
        del os.environ["ROBOFLOW_EMULATOR_COMMAND"]
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*EmulatorStartError*printed no 'listening on URL' line in time*"])
    assert processes_matching(marker) == []


def test_a_command_that_exits_reports_its_output():
    with pytest.raises(EmulatorStartError) as err:
        start_emulator([sys.executable, "-c", "import sys; print('cannot bind: boom'); sys.exit(3)"])
    assert "exited with code 3" in str(err.value)
    assert "cannot bind: boom" in str(err.value)


def test_a_missing_command_is_a_clear_error():
    with pytest.raises(EmulatorStartError, match="could not run"):
        start_emulator(["/nonexistent/roboflow-batch-emulator"])


def test_a_wrapper_like_npx_does_not_leave_its_node_child(tmp_path):
    # `sh -c 'node …; :'` keeps node as a grandchild, as npx (npm → sh → node) does.
    wrapper = ["sh", "-c", 'node "$0" "$@"; :', str(BIN_JS)]

    # The bug this plugin avoids: terminate() on the wrapper leaves node serving.
    naive = subprocess.Popen([*wrapper, *EMULATOR_ARGS], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert b"listening on" in naive.stdout.readline()
        node_pids = eventually(lambda: [p for p in processes_matching(str(BIN_JS)) if os.getpgid(p) == naive.pid and p != naive.pid], what="node child")
        naive.terminate()
        naive.wait(10)
        assert all(running_emulator(p) for p in node_pids), "terminate() alone should have left node running"
    finally:
        os.killpg(naive.pid, signal.SIGKILL)
        naive.stdout.close()

    proc = start_emulator(wrapper, EMULATOR_ARGS)
    node_pids = [p for p in processes_matching(str(BIN_JS)) if os.getpgid(p) == proc.pgid and p != proc.pid]
    assert node_pids, "node should run as the wrapper's child"
    proc.stop()
    assert not any(running(p) for p in node_pids)
    assert not group_alive(proc.pgid)
    assert not proc.log_path.exists()


def test_a_child_that_ignores_sigterm_is_killed():
    # Says it listens on a port where nothing answers, and ignores SIGTERM: stop() must SIGKILL it.
    marker = f"rf-emu-stubborn-{uuid.uuid4().hex}"
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('listening on http://127.0.0.1:1', flush=True); time.sleep(300)"
    with pytest.raises(EmulatorStartError, match="did not answer 200"):
        start_emulator([sys.executable, "-c", code, marker], startup_timeout=1)
    assert processes_matching(marker) == []


def test_stop_twice_is_harmless():
    proc = start_emulator(["node", str(BIN_JS)], EMULATOR_ARGS)
    proc.stop()
    proc.stop()
    assert not running(proc.pid)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_a_signal_to_pytest_leaves_no_emulator(inner, sig):
    inner.makepyfile(
        test_inner="""
        import time
        from record_helper import record

        def test_sleeps(emulator):
            record(emulator)
            time.sleep(120)
        """
    )
    # Its own TMPDIR: a pytest killed with SIGKILL cannot remove the emulator's log folder itself.
    (inner.path / "tmp").mkdir()
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_inner.py"],
        cwd=inner.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "TMPDIR": str(inner.path / "tmp")},
    )
    try:
        info = read_info(inner.path / "emulator.json")
        assert running_emulator(info["pid"])
        child.send_signal(sig)
        out, _ = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    text = out.decode(errors="replace")
    if sig == signal.SIGINT:
        assert child.returncode == pytest.ExitCode.INTERRUPTED, text
        assert "KeyboardInterrupt" in text
    else:
        assert child.returncode == -sig, text
    # SIGKILL cannot be caught: there the child's parent-death signal (Linux) stops it, a moment later.
    eventually(lambda: not running_emulator(info["pid"]) and not group_alive(info["pgid"]), 15, "emulator gone")


def test_early_start_sets_the_env_before_test_modules_are_imported(inner):
    inner.makepyfile(
        test_inner="""
        import os
        SEEN_AT_IMPORT = os.environ.get("API_BASE_URL")

        def test_module_saw_it(roboflow_emulator):
            assert SEEN_AT_IMPORT == roboflow_emulator.base_url
        """
    )
    env_before = os.environ.pop("API_BASE_URL")
    try:
        result = run_inner(inner, "--roboflow-emulator-start=early")
    finally:
        os.environ["API_BASE_URL"] = env_before
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["roboflow emulator: http://127.0.0.1:* (workspace emulator-workspace, pid *)"])


def test_early_start_that_fails_exits_with_the_reason(inner):
    inner.makepyfile(test_inner="def test_never_runs(): pass")
    result = run_inner(inner, "--roboflow-emulator-start=early", "--roboflow-emulator-command=/nonexistent/emu")
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    result.stderr.fnmatch_lines(["*roboflow emulator: could not run*"])


def test_connects_to_a_running_emulator_by_url_and_leaves_it_running(inner, roboflow_emulator):
    inner.makepyfile(
        test_inner=f"""
        def test_connected(emulator):
            assert emulator.pid is None
            assert emulator.base_url == {roboflow_emulator.base_url!r}
            assert emulator.workspace == "emulator-workspace"
            assert emulator.controls.batch_count("seeded") == 2
        """,
    )
    inner.makefile(".json", seed='{"batches": [{"batchId": "seeded", "images": {"count": 2}}]}')
    result = run_inner(inner, f"--roboflow-emulator-url={roboflow_emulator.base_url}", "--roboflow-emulator-seed=seed.json")
    result.assert_outcomes(passed=1)
    assert running_emulator(roboflow_emulator.pid)


def test_settings_come_from_the_ini_file_too(inner):
    inner.makeini(
        """
        [pytest]
        roboflow_emulator_seed = seeds/world.json
        roboflow_emulator_time_scale = 10
        """
    )
    (inner.path / "seeds").mkdir()
    (inner.path / "seeds" / "world.json").write_text('{"workspaces": [{"id": "team-a", "apiKeys": ["key-a"]}]}')
    inner.makepyfile(
        test_inner="""
        def test_ini(emulator):
            assert emulator.controls.clock.get()["scale"] == 10
            assert emulator.controls.request("GET", "/", query={"api_key": "key-a"})["workspace"] == "team-a"
        """
    )
    run_inner(inner).assert_outcomes(passed=1)


def test_find_command_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project = tmp_path / "project" / "tests"
    project.mkdir(parents=True)
    assert find_command(Settings(rootdir=project)) == ["npx", "roboflow-batch-emulator"]
    checkout = tmp_path / "project"
    (checkout / "bin").mkdir()
    (checkout / "bin" / "roboflow-batch-emulator.js").write_text("")
    (checkout / "package.json").write_text('{"name": "roboflow-batch-emulator"}')
    assert find_command(Settings(rootdir=project))[1:] == [str(checkout / "bin" / "roboflow-batch-emulator.js")]
    local_bin = tmp_path / "project" / "node_modules" / ".bin" / "roboflow-batch-emulator"
    local_bin.parent.mkdir(parents=True)
    local_bin.symlink_to(BIN_JS)
    assert find_command(Settings(rootdir=project)) == [str(local_bin)]
    assert find_command(Settings(rootdir=project, dir=checkout))[1:] == [str(checkout / "bin" / "roboflow-batch-emulator.js")]
    assert find_command(Settings(rootdir=project, dir=checkout, command="npx roboflow-batch-emulator --quiet")) == ["npx", "roboflow-batch-emulator", "--quiet"]
    with pytest.raises(EmulatorStartError, match="does not exist"):
        find_command(Settings(dir=tmp_path / "nowhere"))


def test_the_node_modules_bin_link_really_starts(tmp_path, monkeypatch):
    # What an npm devDependency install leaves: node_modules/.bin/roboflow-batch-emulator → the package's bin.
    local_bin = tmp_path / "node_modules" / ".bin" / "roboflow-batch-emulator"
    local_bin.parent.mkdir(parents=True)
    local_bin.symlink_to(BIN_JS)
    monkeypatch.delenv("ROBOFLOW_EMULATOR_DIR")
    proc = start_emulator(find_command(Settings(rootdir=tmp_path)), EMULATOR_ARGS, cwd=str(tmp_path))
    try:
        assert proc.workspace == "emulator-workspace" and proc.api_key == "emulator-api-key"
    finally:
        proc.stop()
    assert not running(proc.pid)
    assert Path(local_bin).is_symlink()
