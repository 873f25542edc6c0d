"""Shapes of the control API's bodies and answers (src/contract/controls.ts), as TypedDicts.

Keys keep the wire's camelCase so a dict from a response can be sent back as is. Classes named ``…Input``
describe what you send; the others what comes back.
"""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional, TypedDict, Union

ClockMode = Literal["real", "scaled", "max", "manual"]
JournalOrder = Literal["asc", "desc"]

# ---- seed ---------------------------------------------------------------------------------------


class SeedImageSpec(TypedDict, total=False):
    width: int
    height: int
    color: str


class SeedFileEntry(TypedDict, total=False):
    name: str  # required
    base64: str
    text: str
    image: SeedImageSpec
    partName: str
    contentType: str
    mediaType: str
    shardId: str


class SeedImages(TypedDict, total=False):
    count: int  # required
    width: int
    height: int
    prefix: str
    partName: str


class SeedBatch(TypedDict, total=False):
    batchId: str  # required
    workspace: str
    displayName: str
    batchType: Literal["simple-batch", "sharded-batch", "multipart-batch"]
    contentType: Literal["images", "videos", "metadata", "archives", "mixed"]
    origin: Literal["user", "job-output"]
    parts: List[Dict[str, str]]
    files: List[SeedFileEntry]
    images: SeedImages


class JobScript(TypedDict, total=False):
    stageDurationsMs: Dict[str, float]
    failTasks: Dict[str, List[int]]
    finalState: Literal["success", "fail"]


class SeedJob(TypedDict, total=False):
    jobId: str  # required
    definition: Dict[str, Any]  # required
    workspace: str
    name: str
    script: JobScript
    state: Literal["succeeded", "failed", "running"]


class SeedWorkspace(TypedDict, total=False):
    id: str  # required
    apiKeys: List[str]


class Deterministic(TypedDict, total=False):
    seed: Union[int, str]  # required
    startTime: str
    clock: ClockMode


class Seed(TypedDict, total=False):
    """Same JSON as ``--seed FILE`` and ``POST /_emulator/seed``."""

    deterministic: Deterministic
    workspaces: List[SeedWorkspace]
    batches: List[SeedBatch]
    jobs: List[SeedJob]


class SeedResult(TypedDict):
    status: str
    workspaces: int
    batches: int
    files: int
    jobs: int


class ResetResult(TypedDict):
    status: str
    workspace: Optional[str]
    ms: float
    deletedRows: Dict[str, int]
    blobsRemoved: int


class Snapshot(TypedDict):
    format: str
    version: int
    schemaVersion: int
    exportedAt: str
    tables: Dict[str, List[Dict[str, Any]]]
    blobs: Dict[str, str]


# ---- journal ------------------------------------------------------------------------------------


class JournalFault(TypedDict):
    ruleId: str
    type: str


class JournalEntry(TypedDict):
    seq: int
    at: str
    method: str
    path: str
    query: str
    headers: Dict[str, str]
    status: Optional[int]
    latencyMs: float
    workspace: Optional[str]
    fault: Optional[JournalFault]
    operation: Optional[str]  # "METHOD /path/{param}" as /openapi.json names it
    requestBody: Optional["BodySummary"]
    responseHeaders: Optional[Dict[str, str]]
    responseBody: Optional["BodySummary"]


class BodySummary(TypedDict, total=False):
    """kind json/text: ``text`` (first bytes, api keys masked), ``truncated``; binary: ``sha256``;
    multipart: ``parts`` (name, fileName, contentType, size, sha256, value). Files never keep their bytes."""

    kind: Literal["json", "text", "binary", "multipart"]
    contentType: Optional[str]
    size: int
    complete: bool
    text: str
    truncated: bool
    sha256: Optional[str]
    parts: List[Dict[str, Any]]


class JournalPage(TypedDict):
    status: str
    count: int
    truncated: bool
    entries: List[JournalEntry]


class ValueMatch(TypedDict, total=False):
    equals: Any
    contains: Any
    matches: str  # regular expression
    absent: bool


class BodyMatch(ValueMatch, total=False):
    path: str  # required: "processingSpecification.aggregationFormat", "imageReferences[0].url"


class RequestMatcher(TypedDict, total=False):
    """What ``search_journal``, ``verify`` and request fault rules match: every given part must hold."""

    method: Union[str, List[str]]
    path: str  # prefix
    pathPattern: str  # glob
    pathRegex: str
    operation: str
    workspace: str
    status: Union[int, str]
    query: Dict[str, Union[str, ValueMatch]]
    headers: Dict[str, Union[str, ValueMatch]]
    body: List[BodyMatch]


# ---- contract report ----------------------------------------------------------------------------


class ContractFinding(TypedDict):
    kind: str  # invalid-request, unknown-field, deprecated-option, other-workspace, expired-url, ... injected-fault, stubbed-response
    violation: bool
    injected: bool
    at: str
    method: str
    path: str
    operation: Optional[str]
    status: Optional[int]
    workspace: Optional[str]
    message: str
    fields: List[str]
    ruleId: Optional[str]


class ContractSummary(TypedDict):
    requests: int
    violations: int
    findings: Dict[str, int]
    operationsExercised: int
    operationsTotal: int
    failedWebhooks: int


class ContractReport(TypedDict):
    status: str
    since: str
    summary: ContractSummary
    text: str  # the readable form
    findings: List[ContractFinding]
    operations: Dict[str, List[Dict[str, Any]]]  # exercised (with count, statuses), untouched
    webhooks: Dict[str, List[Dict[str, Any]]]  # failed


# ---- faults -------------------------------------------------------------------------------------


class FaultMatch(TypedDict, total=False):
    method: Union[str, List[str]]
    path: str  # glob: * within a segment, ** across
    pathRegex: str
    workspace: str
    jobId: str
    batchId: str
    stage: str
    taskIndex: Union[int, List[int]]
    category: str
    url: str
    query: Dict[str, Union[str, ValueMatch]]
    headers: Dict[str, Union[str, ValueMatch]]
    body: List[BodyMatch]


class FaultAction(TypedDict, total=False):
    """``type`` is one of: status (+ status, retryAfter, message, latencyMs), latency (+ ms),
    drop-connection (+ latencyMs), fail-task, fail-stage, webhook-drop, webhook-delay (+ ms),
    webhook-duplicate, webhook-out-of-order (+ ms); the stubs respond (+ status, headers, body,
    latencyMs) and job-state (+ jobId, workspace, state failed|succeeded|aborted, at or afterMs, message)."""

    type: str  # required
    status: int
    retryAfter: int
    message: str
    latencyMs: int
    ms: int
    headers: Dict[str, str]
    body: Any
    jobId: str
    workspace: str
    state: Literal["failed", "succeeded", "aborted"]
    at: Union[str, int]
    afterMs: int


class FaultRuleInput(TypedDict, total=False):
    action: FaultAction  # required
    id: str
    match: FaultMatch
    times: int
    probability: float
    seed: int


class FaultRule(TypedDict):
    id: str
    match: FaultMatch
    action: FaultAction
    times: Optional[int]
    remaining: Optional[int]
    probability: Optional[float]
    seed: Optional[int]
    fired: int
    evaluated: int
    createdAt: str
    lastFiredAt: Optional[str]


# ---- clock --------------------------------------------------------------------------------------


class ClockState(TypedDict):
    mode: ClockMode
    scale: Optional[float]
    now: str
    pendingTimers: int
    nextTimerAt: Optional[str]


class AdvanceResult(TypedDict):
    status: str
    fired: int
    steps: int
    idle: bool
    clock: ClockState


# ---- webhooks and receiver ----------------------------------------------------------------------


class WebhookAttempt(TypedDict):
    attempt: int
    at: str
    url: str
    status: Optional[int]
    error: Optional[str]
    latencyMs: float
    body: Any


class WebhookDelivery(TypedDict):
    id: str
    workspace: str
    url: str
    category: str
    subject: Optional[str]
    state: str
    attemptCount: int
    nextAttemptAt: Optional[str]
    createdAt: str
    payload: Any
    attempts: List[WebhookAttempt]


class ReceivedDelivery(TypedDict):
    seq: int
    at: str
    method: str
    headers: Dict[str, str]
    body: str
    json: Any
    status: int


# ---- the public jobs API ------------------------------------------------------------------------


class Job(TypedDict):
    """``GET /batch-processing/v1/external/{ws}/jobs/{jobId}`` → ``job``."""

    jobId: str
    name: str
    jobDefinition: Dict[str, Any]
    currentStage: Optional[str]
    plannedStages: Optional[List[str]]
    error: bool
    isTerminal: bool
    lastNotification: Union[Dict[str, Any], str, None]
    createdAt: str
    lastUpdate: str
    restartParametersOverride: List[Dict[str, Any]]
