"""The typed control client against a live emulator (the session's, reset before each test)."""

from __future__ import annotations

import urllib.request

import pytest
from conftest import BIN_JS

from pytest_roboflow_emulator import ControlApiError, EmulatorClient, start_emulator

# Scripted stage durations are spread over a stage's steps; 720720 ms divides evenly by any step count up to 16,
# which keeps the emulator clock on whole milliseconds (see test_signed_urls_stay_valid_after_a_scripted_job).
WHOLE_MS = 720_720
IMAGE_JOB = {
    "type": "simple-image-processing-v1",
    "jobInput": {"type": "staging-batch-input-v1", "batchId": "inputs"},
    "computeConfiguration": {"type": "compute-configuration-v2", "machineType": "gpu", "workersPerMachine": 4},
    "processingSpecification": {
        "type": "workflows-processing-specification-v1", "workspace": "emulator-workspace", "workflowId": "wf", "aggregationFormat": "jsonl",
    },
}


def test_reset_and_seed(emulator):
    c = emulator.controls
    seeded = c.seed({"workspaces": [{"id": "team-a", "apiKeys": ["key-a"]}], "batches": [{"batchId": "inputs", "images": {"count": 4}}]})
    assert seeded == {"status": "ok", "workspaces": 1, "batches": 1, "files": 4, "jobs": 0}
    assert c.batch_count("inputs") == 4
    one = c.reset("team-a")
    assert one["workspace"] == "team-a" and c.batch_count("inputs") == 4
    everything = c.reset()
    assert everything["status"] == "ok" and everything["workspace"] is None and everything["deletedRows"]["files"] == 4
    with pytest.raises(ControlApiError) as err:
        c.batch_count("inputs")
    assert err.value.status == 404
    assert err.value.body["error"]["type"]


def test_a_bad_seed_is_a_readable_400(emulator):
    with pytest.raises(ControlApiError) as err:
        emulator.controls.seed({"batchez": []})  # type: ignore[typeddict-unknown-key]
    assert err.value.status == 400
    assert "batches" in str(err.value)  # did-you-mean


def test_faults_fire_and_show_in_the_journal(emulator):
    c = emulator.controls
    c.seed({"batches": [{"batchId": "inputs", "images": {"count": 1}}]})
    rule = c.faults.add({"id": "count-503", "match": {"path": "**/count"}, "action": {"type": "status", "status": 503, "retryAfter": 2}, "times": 1})
    assert rule["id"] == "count-503" and rule["remaining"] == 1 and rule["fired"] == 0
    with pytest.raises(ControlApiError) as err:
        c.batch_count("inputs")
    assert err.value.status == 503
    assert c.batch_count("inputs") == 1  # fired once only
    [listed] = c.faults.list()
    assert listed["fired"] == 1 and listed["remaining"] == 0

    page = c.journal(path_pattern="**/inputs/count")
    assert page["count"] == 2 and [e["status"] for e in page["entries"]] == [503, 200]
    assert page["entries"][0]["fault"] == {"ruleId": "count-503", "type": "status"}
    assert c.journal_count(fault=True) == 1
    assert c.journal_count(status="5xx") == 1
    assert c.journal(order="desc", limit=1)["entries"][0]["status"] == 200
    assert c.journal_count(method="GET", path="/data-staging/v1/external/emulator-workspace") == 2
    assert c.journal_count(since=page["entries"][1]["at"]) >= 1
    assert c.journal_count(after=page["entries"][0]["seq"]) == 1

    c.faults.remove("count-503")
    assert c.faults.list() == []
    c.faults.add({"match": {"path": "**/count"}, "action": {"type": "status", "status": 429}})
    c.faults.clear()
    assert c.faults.list() == []
    with pytest.raises(ControlApiError) as err:
        c.faults.remove("nope")
    assert err.value.status == 404
    c.clear_journal()
    assert c.journal_count() == 0


def test_clock_modes_and_manual_stepping(emulator):
    c = emulator.controls
    assert c.clock.get()["mode"] == "max"
    manual = c.clock.set("manual")
    assert manual["mode"] == "manual"
    start = manual["now"]
    moved = c.clock.advance(60_000)
    assert moved["mode"] == "manual" and moved["now"] > start
    c.seed({"batches": [{"batchId": "inputs", "images": {"count": 2}}]})
    c.start_scripted_job("stepped", IMAGE_JOB, script={"stageDurationsMs": {"processing": WHOLE_MS, "export": WHOLE_MS}})
    assert c.get_job("stepped")["isTerminal"] is False
    assert c.clock.get()["pendingTimers"] > 0
    stepped = c.clock.next()
    assert stepped["now"] > moved["now"]
    done = c.clock.run_until_idle(max_steps=50)
    assert done["status"] == "ok" and done["steps"] >= 1 and done["idle"] == (done["clock"]["pendingTimers"] == 0)
    # "idle" means no timer right now; a step's async output write may still add the next one,
    # which is why wait_for_job keeps polling and stepping until the job itself says it is done.
    assert c.wait_for_job("stepped", timeout=30)["isTerminal"] is True
    assert c.clock.set("scaled", 60)["scale"] == 60
    with pytest.raises(ControlApiError) as err:
        c.clock.advance(1)
    assert err.value.status == 409  # only in manual mode


def test_wait_for_job_in_max_mode_and_in_manual_mode(emulator):
    c = emulator.controls
    c.seed({"batches": [{"batchId": "inputs", "images": {"count": 3}}]})
    c.api("POST", f"/batch-processing/v1/external/{c.workspace}/jobs/fast-job", IMAGE_JOB)
    job = c.wait_for_job("fast-job", timeout=30)
    assert job["isTerminal"] and not job["error"] and job["jobId"] == "fast-job"

    c.clock.set("manual")
    c.api("POST", f"/batch-processing/v1/external/{c.workspace}/jobs/manual-job", IMAGE_JOB)
    job = c.wait_for_job("manual-job", timeout=30)  # steps the manual clock itself
    assert job["isTerminal"] and not job["error"]
    assert c.batch_count("manual-job-processing", part_name="results") >= 1

    c.start_scripted_job("never-ends", IMAGE_JOB, script={"stageDurationsMs": {"processing": WHOLE_MS * 10**6}})
    c.clock.set("real")
    with pytest.raises(TimeoutError, match="never-ends"):
        c.wait_for_job("never-ends", timeout=0.3)


def test_webhooks_and_the_receiver(emulator):
    c = emulator.controls
    hooks = c.receiver("hooks")
    assert hooks.url == f"{emulator.base_url}/_emulator/receiver/hooks"
    delivery_id = c.webhooks.send(hooks.url, subject="s-1", payload={"type": "test-notification", "n": 1})
    [got] = hooks.wait_for(1)
    assert got["json"]["type"] == "test-notification" and got["json"]["n"] == 1 and got["method"] == "POST"
    [delivery] = c.webhooks.list(subject="s-1")
    assert delivery["id"] == delivery_id and delivery["state"] == "delivered" and delivery["attempts"][0]["status"] == 200
    c.webhooks.redeliver(delivery_id)
    assert len(hooks.wait_for(2)) == 2
    assert len(hooks.list(after=got["seq"])) == 1
    hooks.clear()
    assert hooks.list() == []
    with pytest.raises(TimeoutError, match='receiver "hooks" got 0 of 1'):
        hooks.wait_for(1, timeout=0.2)

    failing = c.webhooks.send(hooks.url + "?status=500", subject="s-2")
    hooks.wait_for(1)
    [first] = c.webhooks.list(subject="s-2")
    assert first["id"] == failing and first["attempts"][0]["status"] == 500
    assert c.webhooks.list(state="delivered", subject="s-2") == []


def test_job_webhooks_reach_the_receiver(emulator):
    c = emulator.controls
    c.seed({"batches": [{"batchId": "inputs", "images": {"count": 1}}]})
    jobs = c.receiver("jobs")
    c.api("POST", f"/batch-processing/v1/external/{c.workspace}/jobs/hooked", {**IMAGE_JOB, "notificationsURL": jobs.url})
    c.wait_for_job("hooked")
    # Bearer rf_{the workspace's internal id} (derived from its name unless a seed gave one), as the real service.
    internal_id = next(w["internalId"] for w in c.request("GET", "/_emulator/overview")["workspaces"] if w["id"] == c.workspace)
    assert any(d["json"] and d["headers"].get("authorization") == f"Bearer rf_{internal_id}" for d in jobs.wait_for(1))


def test_snapshot_and_restore(emulator):
    c = emulator.controls
    c.seed({"batches": [{"batchId": "inputs", "images": {"count": 2}}]})
    snap = c.snapshot()
    assert snap["format"] == "roboflow-batch-emulator-snapshot" and snap["blobs"]
    c.reset()
    c.restore(snap)
    assert c.batch_count("inputs") == 2


def test_the_admin_token_guards_the_controls():
    proc = start_emulator(["node", str(BIN_JS)], ["--port", "0", "--data-dir", ":memory:", "--admin-token", "s3cret"])
    try:
        with pytest.raises(ControlApiError) as err:
            EmulatorClient(proc.base_url).faults.list()
        assert err.value.status == 401
        assert EmulatorClient(proc.base_url, admin_token="s3cret").faults.list() == []
    finally:
        proc.stop()


# A scripted job once left the clock on a fractional ms and every later signed URL answered 403.
def test_signed_urls_stay_valid_after_a_scripted_job():
    proc = start_emulator(["node", str(BIN_JS)], ["--port", "0", "--data-dir", ":memory:", "--time-scale", "max"])
    try:
        c = EmulatorClient(proc.base_url)
        c.seed({"batches": [{"batchId": "inputs", "images": {"count": 2}}]})
        c.start_scripted_job("thirds", IMAGE_JOB, script={"stageDurationsMs": {"processing": 1_000}})
        c.wait_for_job("thirds")
        slot = c.api("POST", f"/data-staging/v1/external/{c.workspace}/batches/b1/bulk-upload/image-files")["signedURLDetails"]
        req = urllib.request.Request(slot["uploadURL"], data=b"tar bytes", method="PUT", headers=slot["extensionHeaders"])
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req) as res:
            assert res.status == 200
    finally:
        proc.stop()
