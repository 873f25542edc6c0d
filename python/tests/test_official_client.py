"""The official client (`inference rf-cloud …`, copy in ../shared/real-client) pointed at the emulator by
the fixtures alone: no URL or key is passed to it. These fail, never skip, when the client is missing."""

from __future__ import annotations

import subprocess
import sys

from conftest import REAL_CLIENT_DIR, eventually

from pytest_roboflow_emulator import png_bytes

RF_CLOUD = REAL_CLIENT_DIR / "rf_cloud.py"


def rf_cloud(*args: str) -> subprocess.CompletedProcess:
    assert RF_CLOUD.is_file(), f"the official client is not at {RF_CLOUD}; set RF_REAL_CLIENT_DIR to the folder holding rf_cloud.py"
    run = subprocess.run([sys.executable, str(RF_CLOUD), *args], capture_output=True, text=True, timeout=120)
    out = run.stdout + run.stderr
    assert run.returncode == 0 and "Traceback" not in out and "Command failed" not in out, out
    return run


def test_official_client_uploads_a_batch(emulator, tmp_path):
    for i in range(3):
        (tmp_path / f"img-{i}.png").write_bytes(png_bytes(rgb=(i, 100, 200)))
    rf_cloud("data-staging", "create-batch-of-images", "--images-dir", str(tmp_path), "--batch-id", "my-batch")
    assert emulator.controls.batch_count("my-batch") == 3


def test_official_client_uploads_tar_shards_and_lists_batches(emulator, tmp_path):
    # More than 32 images: the client packs them into .tar shards and PUTs them to signed URLs.
    for i in range(40):
        (tmp_path / f"img-{i:02d}.png").write_bytes(png_bytes(rgb=(i, 7, 9)))
    rf_cloud("data-staging", "create-batch-of-images", "--images-dir", str(tmp_path), "--batch-id", "sharded")
    eventually(lambda: emulator.controls.batch_count("sharded") == 40, 30, "40 images indexed")
    assert "sharded" in rf_cloud("data-staging", "list-batches").stdout


def test_official_client_imported_in_process_after_the_fixture(emulator, tmp_path, monkeypatch):
    # The client reads API_BASE_URL once, at import: importing it inside the test (after the fixture
    # set the variable) is what makes it talk to the emulator.
    monkeypatch.syspath_prepend(str(REAL_CLIENT_DIR))
    from inference_cli.lib import env
    from inference_cli.lib.roboflow_cloud.data_staging import api_operations

    assert env.API_BASE_URL == emulator.base_url
    (tmp_path / "cat.png").write_bytes(png_bytes())
    api_operations.create_images_batch_from_directory(directory=str(tmp_path), batch_id="in-process", api_key=emulator.api_key)
    assert emulator.controls.batch_count("in-process") == 1
    assert emulator.controls.journal_count(path_pattern="**/in-process/upload/image", status=200) == 1
