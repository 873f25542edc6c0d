"""A typed client of the emulator's control API (/_emulator) and of the few public calls tests need.

Standard library only (urllib). Names mirror the TypeScript client in src/testing.ts in Python style:
``controls.faults.add`` / ``list`` / ``remove`` / ``clear``, ``controls.clock.advance``,
``controls.receiver("jobs").wait_for(1)``, and so on. Shapes are those of src/contract/controls.ts.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Mapping, Optional, Union, cast

from .shapes import (
    AdvanceResult,
    ClockMode,
    ClockState,
    ContractReport,
    FaultRule,
    FaultRuleInput,
    Job,
    JobScript,
    JournalOrder,
    JournalPage,
    ReceivedDelivery,
    RequestMatcher,
    ResetResult,
    Seed,
    SeedResult,
    Snapshot,
    WebhookDelivery,
)

DEFAULT_WORKSPACE = "emulator-workspace"
DEFAULT_API_KEY = "emulator-api-key"

# Loopback never goes through a proxy, whatever HTTP(S)_PROXY says: an empty ProxyHandler disables them.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ControlApiError(Exception):
    """A call answered with a status >= 400; ``body`` is the parsed JSON (or text) of the answer."""

    def __init__(self, status: int, body: Any, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class VerificationError(ControlApiError, AssertionError):
    """``verify`` did not hold. The message names the closest requests and the matcher parts each one
    failed; ``body["verification"]`` has them as data. An AssertionError, so pytest shows it as a failed check."""


def _quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


def _query(params: Mapping[str, Any]) -> str:
    pairs = [(k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in params.items() if v is not None]
    return "?" + urllib.parse.urlencode(pairs) if pairs else ""


class EmulatorClient:
    """Drives one emulator at ``base_url`` (started by the fixture, by hand, or in Docker)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str = DEFAULT_API_KEY,
        workspace: str = DEFAULT_WORKSPACE,
        admin_token: Optional[str] = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.workspace = workspace
        self.admin_token = admin_token
        self.timeout = timeout
        self.faults = Faults(self)
        self.clock = Clock(self)
        self.webhooks = Webhooks(self)

    def for_workspace(self, workspace: str, api_key: str) -> "EmulatorClient":
        """The same emulator, seen with another workspace's key (e.g. one a seed created)."""
        return EmulatorClient(self.base_url, api_key=api_key, workspace=workspace, admin_token=self.admin_token, timeout=self.timeout)

    # ---- plumbing ------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, query: Optional[Mapping[str, Any]] = None) -> Any:
        """One JSON call; raises ControlApiError on a status >= 400. ``path`` starts with a slash."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path + _query(query or {}), data=data, method=method)
        if data is not None:
            req.add_header("content-type", "application/json")
        if self.admin_token and path.startswith("/_emulator"):
            req.add_header("authorization", f"Bearer {self.admin_token}")
        try:
            with _OPENER.open(req, timeout=self.timeout) as res:
                return _parse(res.read())
        except urllib.error.HTTPError as err:
            parsed = _parse(err.read())
            message = parsed.get("message") if isinstance(parsed, dict) else parsed
            raise ControlApiError(err.code, parsed, f"{method} {path} answered {err.code}: {message}") from None

    def api(self, method: str, path: str, body: Any = None, query: Optional[Mapping[str, Any]] = None) -> Any:
        """A call to the emulated public API with this client's ``api_key`` in the query."""
        return self.request(method, path, body, {"api_key": self.api_key, **(query or {})})

    def health(self) -> bool:
        try:
            self.request("GET", "/health")
            return True
        except (OSError, ControlApiError):
            return False

    # ---- world: reset, seed, snapshot ----------------------------------------------------------

    def reset(self, workspace: Optional[str] = None, *, reseed: bool = False) -> ResetResult:
        """Empties everything (or one workspace); ``reseed=True`` applies the --seed file again afterwards."""
        body: Dict[str, Any] = {}
        if workspace is not None:
            body["workspace"] = workspace
        if reseed:
            body["reseed"] = True
        return cast(ResetResult, self.request("POST", "/_emulator/reset", body))

    def seed(self, seed: Seed) -> SeedResult:
        return cast(SeedResult, self.request("POST", "/_emulator/seed", seed))

    def snapshot(self) -> Snapshot:
        return cast(Snapshot, self.request("GET", "/_emulator/snapshot"))

    def restore(self, snapshot: Snapshot) -> None:
        self.request("POST", "/_emulator/snapshot", snapshot)

    # ---- journal -------------------------------------------------------------------------------

    def journal(
        self,
        *,
        method: Optional[str] = None,
        path: Optional[str] = None,
        path_pattern: Optional[str] = None,
        path_regex: Optional[str] = None,
        workspace: Optional[str] = None,
        status: Union[int, str, None] = None,
        since: Union[str, int, None] = None,
        after: Optional[int] = None,
        fault: Optional[bool] = None,
        include_control: Optional[bool] = None,
        limit: Optional[int] = None,
        order: Optional[JournalOrder] = None,
        operation: Optional[str] = None,
        body_path: Optional[str] = None,
        body_equals: Optional[str] = None,
        body_contains: Optional[str] = None,
        body_regex: Optional[str] = None,
    ) -> JournalPage:
        """Requests received, oldest first (``count`` is the full total, ``entries`` at most ``limit``).
        ``path`` is a prefix, ``path_pattern`` a glob (* within a segment, ** across), ``status`` 429, "4xx"
        or "dropped", ``since`` an ISO time or epoch ms on the emulator clock, ``after`` a seq, ``operation``
        as /openapi.json names it, ``body_path`` a JSON path into the request body (with ``body_equals``,
        ``body_contains`` or ``body_regex``; alone: the field is present). ``search_journal`` takes a full matcher."""
        query = {"method": method, "path": path, "pathPattern": path_pattern, "pathRegex": path_regex, "workspace": workspace, "status": status,
                 "since": since, "after": after, "fault": fault, "includeControl": include_control, "limit": limit, "order": order,
                 "operation": operation, "bodyPath": body_path, "bodyEquals": body_equals, "bodyContains": body_contains, "bodyRegex": body_regex}
        return cast(JournalPage, self.request("GET", "/_emulator/journal", query=query))

    def journal_count(
        self,
        *,
        method: Optional[str] = None,
        path: Optional[str] = None,
        path_pattern: Optional[str] = None,
        path_regex: Optional[str] = None,
        workspace: Optional[str] = None,
        status: Union[int, str, None] = None,
        since: Union[str, int, None] = None,
        after: Optional[int] = None,
        fault: Optional[bool] = None,
        include_control: Optional[bool] = None,
        operation: Optional[str] = None,
        body_path: Optional[str] = None,
        body_equals: Optional[str] = None,
        body_contains: Optional[str] = None,
        body_regex: Optional[str] = None,
    ) -> int:
        """How many journal entries match (same filters as ``journal``)."""
        query = {"method": method, "path": path, "pathPattern": path_pattern, "pathRegex": path_regex, "workspace": workspace, "status": status,
                 "since": since, "after": after, "fault": fault, "includeControl": include_control,
                 "operation": operation, "bodyPath": body_path, "bodyEquals": body_equals, "bodyContains": body_contains, "bodyRegex": body_regex}
        return int(self.request("GET", "/_emulator/journal/count", query=query)["count"])

    def search_journal(
        self,
        match: Optional[RequestMatcher] = None,
        *,
        limit: Optional[int] = None,
        order: Optional[JournalOrder] = None,
        after: Optional[int] = None,
        since: Union[str, int, None] = None,
    ) -> JournalPage:
        """Journal entries matching ``match``: method, path / pathPattern / pathRegex, operation, workspace,
        status, ``query`` and ``headers`` (name → value or {equals, contains, matches, absent}) and ``body``
        (a list of {path, equals | contains | matches | absent})."""
        body: Dict[str, Any] = {k: v for k, v in (("match", match), ("limit", limit), ("order", order), ("after", after), ("since", since)) if v is not None}
        return cast(JournalPage, self.request("POST", "/_emulator/journal/query", body))

    def verify(
        self,
        match: RequestMatcher,
        *,
        count: Optional[int] = None,
        at_least: Optional[int] = None,
        at_most: Optional[int] = None,
        since: Union[str, int, None] = None,
        closest: Optional[int] = None,
    ) -> int:
        """Checks how many requests matched ``match`` (exactly ``count``, or within ``at_least``..``at_most``;
        default at least 1) and returns that number. Raises VerificationError otherwise, naming the
        closest requests and which matcher part each one failed (WireMock's verify)."""
        body: Dict[str, Any] = {"match": match}
        for key, value in (("count", count), ("atLeast", at_least), ("atMost", at_most), ("since", since), ("closest", closest)):
            if value is not None:
                body[key] = value
        try:
            return int(self.request("POST", "/_emulator/journal/verify", body)["matched"])
        except ControlApiError as err:
            if err.status != 422:
                raise
            message = err.body.get("message") if isinstance(err.body, dict) else str(err)
            raise VerificationError(err.status, err.body, str(message)) from None

    # ---- contract report -----------------------------------------------------------------------

    def contract_report(self) -> ContractReport:
        """What the run's requests would meet at the real service (refusals, unknown fields, deprecated
        options, other workspaces, expired URLs; injected answers marked), the operations of the API
        exercised and never touched, and failed webhook deliveries. Resets do not empty it."""
        return cast(ContractReport, self.request("GET", "/_emulator/contract-report"))

    def clear_contract_report(self) -> None:
        """Starts a new report (forgets the run so far)."""
        self.request("DELETE", "/_emulator/contract-report")

    def clear_journal(self, workspace: Optional[str] = None) -> None:
        self.request("DELETE", "/_emulator/journal", query={"workspace": workspace})

    # ---- receiver, scripted jobs, jobs ---------------------------------------------------------

    def receiver(self, name: str) -> Receiver:
        """The built-in webhook receiver ``name``: give ``.url`` as notificationsURL."""
        return Receiver(self, name)

    def start_scripted_job(
        self,
        job_id: str,
        definition: Mapping[str, Any],
        *,
        workspace: Optional[str] = None,
        name: Optional[str] = None,
        script: Optional[JobScript] = None,
    ) -> None:
        body: Dict[str, Any] = {"definition": dict(definition)}
        if name is not None:
            body["name"] = name
        if script is not None:
            body["script"] = script
        ws = workspace or self.workspace
        self.request("POST", f"/_emulator/jobs/{_quote(ws)}/{_quote(job_id)}", body)

    def get_job(self, job_id: str, *, workspace: Optional[str] = None) -> Job:
        ws = workspace or self.workspace
        return cast(Job, self.api("GET", f"/batch-processing/v1/external/{_quote(ws)}/jobs/{_quote(job_id)}")["job"])

    def batch_count(self, batch_id: str, *, part_name: Optional[str] = None, workspace: Optional[str] = None) -> int:
        ws = workspace or self.workspace
        path = f"/data-staging/v1/external/{_quote(ws)}/batches/{_quote(batch_id)}/count"
        return int(self.api("GET", path, query={"partName": part_name})["count"])

    def wait_for_job(self, job_id: str, timeout: float = 60.0, *, workspace: Optional[str] = None, poll_interval: float = 0.05) -> Job:
        """Polls the job until ``job.isTerminal`` and returns it. With the clock in manual mode it also
        steps the clock to the next timer between polls, so the job moves without a hand on the clock.
        Raises TimeoutError (with the last job state) after ``timeout`` real seconds."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get_job(job_id, workspace=workspace)
            if job.get("isTerminal"):
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} not terminal within {timeout} s; last state: {json.dumps(job)[:2000]}")
            state = self.clock.get()
            if state["mode"] == "manual" and state["pendingTimers"] > 0:
                self.clock.next()
            else:
                time.sleep(poll_interval)


class Faults:
    """Fault rules: request faults, simulator faults and webhook delivery faults."""

    def __init__(self, client: EmulatorClient) -> None:
        self._c = client

    def add(self, rule: FaultRuleInput) -> FaultRule:
        return cast(FaultRule, self._c.request("POST", "/_emulator/faults", rule))

    def list(self) -> List[FaultRule]:
        return cast(List[FaultRule], self._c.request("GET", "/_emulator/faults")["rules"])

    def remove(self, rule_id: str) -> None:
        self._c.request("DELETE", f"/_emulator/faults/{_quote(rule_id)}")

    def clear(self) -> None:
        self._c.request("DELETE", "/_emulator/faults")


class Clock:
    """The emulator clock: real, scaled, max (no waiting) or manual (moves only when told)."""

    def __init__(self, client: EmulatorClient) -> None:
        self._c = client

    def get(self) -> ClockState:
        return cast(ClockState, self._c.request("GET", "/_emulator/clock"))

    def set(self, mode: ClockMode, scale: Optional[float] = None) -> ClockState:
        body: Dict[str, Any] = {"mode": mode} if scale is None else {"mode": mode, "scale": scale}
        return cast(ClockState, self._c.request("POST", "/_emulator/clock", body))

    def advance(self, ms: int) -> ClockState:
        """Manual mode only: moves forward ``ms``, firing due timers in order."""
        return cast(ClockState, self._c.request("POST", "/_emulator/clock/advance", {"ms": ms})["clock"])

    def next(self) -> ClockState:
        """Manual mode only: jumps to the next timer and fires it."""
        return cast(ClockState, self._c.request("POST", "/_emulator/clock/advance", {"to": "next"})["clock"])

    def run_until_idle(self, max_steps: Optional[int] = None) -> AdvanceResult:
        """Manual mode only: fires timers until none is left (or ``max_steps``); ``idle`` says whether it got there."""
        body: Dict[str, Any] = {"to": "idle"} if max_steps is None else {"to": "idle", "maxSteps": max_steps}
        return cast(AdvanceResult, self._c.request("POST", "/_emulator/clock/advance", body))


class Webhooks:
    """Every webhook delivery the emulator made, with each attempt."""

    def __init__(self, client: EmulatorClient) -> None:
        self._c = client

    def list(
        self,
        *,
        workspace: Optional[str] = None,
        state: Optional[str] = None,
        category: Optional[str] = None,
        subject: Optional[str] = None,
    ) -> List[WebhookDelivery]:
        query = {"workspace": workspace, "state": state, "category": category, "subject": subject}
        return cast(List[WebhookDelivery], self._c.request("GET", "/_emulator/webhooks", query=query)["deliveries"])

    def redeliver(self, delivery_id: str) -> None:
        self._c.request("POST", f"/_emulator/webhooks/{_quote(delivery_id)}/redeliver")

    def send(
        self,
        url: str,
        *,
        workspace: Optional[str] = None,
        category: Optional[str] = None,
        subject: Optional[str] = None,
        payload: Optional[Mapping[str, Any]] = None,
    ) -> str:
        """Queues a test notification to ``url`` through the real sender (retries, faults); returns its id."""
        body: Dict[str, Any] = {"url": url}
        for key, value in (("workspace", workspace), ("category", category), ("subject", subject), ("payload", payload)):
            if value is not None:
                body[key] = value
        return str(self._c.request("POST", "/_emulator/webhooks", body)["id"])


class Receiver:
    """The built-in webhook receiver ``name`` (``?status=500`` on its URL makes it fail on purpose)."""

    def __init__(self, client: EmulatorClient, name: str) -> None:
        self._c = client
        self.name = name
        self._path = f"/_emulator/receiver/{_quote(name)}"
        self.url = client.base_url + self._path

    def list(self, after: Optional[int] = None) -> List[ReceivedDelivery]:
        return cast(List[ReceivedDelivery], self._c.request("GET", self._path, query={"after": after})["deliveries"])

    def clear(self) -> None:
        self._c.request("DELETE", self._path)

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> List[ReceivedDelivery]:
        """Returns the deliveries once at least ``count`` arrived; TimeoutError after ``timeout`` real seconds."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.list()
            if len(got) >= count:
                return got
            if time.monotonic() > deadline:
                raise TimeoutError(f'receiver "{self.name}" got {len(got)} of {count} deliveries within {timeout} s')
            time.sleep(0.02)


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")
