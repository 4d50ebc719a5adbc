"""The closed set of job error codes: the catalogue and the README's table, every code a provider plugin
can produce, the core refusing (and the report path mapping) a code outside it, and every documented
upstream failure of every provider landing on a catalogue code, with its retryable flag and the
provider's own code, through the simulator."""

from __future__ import annotations

import ast
import logging
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from orchestrator.db import Database
from orchestrator.errors import InvalidTransitionError
from orchestrator.lifecycle import Change, advance
from orchestrator.models import Job
from orchestrator.ops import audit
from orchestrator.pipeline import reconciliation, submission, tracking
from orchestrator.settings import Settings
from orchestrator.views import job_snapshot
from schemas.failures import CATALOGUE, markdown_table
from schemas.jobs import JobStatus
from tests.conftest import Tenant
from tests.test_contract import create, run, standalone_operations
from workers.providers import PROVIDERS
from workers.providers.base import ProviderUpdate, UpstreamStatus
from workers.simulator import Outcome, Refusal, Simulator, SubmitFault

README = (Path(__file__).parent.parent / "README.md").read_text()
S = JobStatus


# --- the catalogue ------------------------------------------------------------------------------------


def test_failures_catalogue_entries_are_complete() -> None:
    for code, entry in CATALOGUE.items():
        assert entry.code == code
        assert re.fullmatch(r"[a-z][a-z_]*", code), code
        assert entry.meaning, code
        assert len(entry.meaning) < 120, code


def test_failures_readme_table_is_the_catalogue() -> None:
    found = re.search(r"<!-- failures:begin -->\n(.*?)\n<!-- failures:end -->", README, re.DOTALL)
    assert found is not None, "README has no generated Failures table"
    assert found[1] == markdown_table(), "README's Failures table is stale: paste markdown_table()"


def test_failures_every_code_the_core_sets_is_catalogued() -> None:
    core = {"upstream_failed", "upstream_cancelled", "upstream_expired", "upstream_no_output"}
    core |= {"upstream_unavailable", "storage_failed", "deadline_exceeded", "start_deadline_exceeded"}
    core |= {"submit_unconfirmed", "failed_by_operator", "parent_channel_gone", "cancelled"}
    assert core <= set(CATALOGUE)


# --- what a provider plugin can produce ---------------------------------------------------------------

# Where a code of ours is written in a plugin: the first argument of ProviderRejectedError, an
# `error_code=` (or `refused=`) keyword, an assignment to (or default of) a name that holds one, and the
# values of its code tables (`CODES`, `HTTP_REASONS`, ...). Simulations play the provider, and
# projections and routes answer in the provider's words, so neither reports a code of ours.
CODE_NAMES = frozenset({"error_code", "code", "reason", "refused"})
TABLE = re.compile(r"(^|_)(CODES|REASONS)$")
WORD = re.compile(r"[a-z][a-z0-9_]*")
NOT_REPORTS = re.compile(r"simulat|projection|routes|envelope")


def _called(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    return node.func.attr if isinstance(node.func, ast.Attribute) else None


def _words(node: ast.AST) -> Iterator[str]:
    """String constants shaped like a code, except dictionary keys read (`body.get("code")`, `x["id"]`)."""
    if isinstance(node, ast.Call) and _called(node) == "get":
        yield from (word for arg in node.args[1:] for word in _words(arg))
        return
    if isinstance(node, ast.Subscript):
        yield from _words(node.value)
        return
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and WORD.fullmatch(node.value):
        yield node.value
    for child in ast.iter_child_nodes(node):
        yield from _words(child)


def _table_values(node: ast.AST) -> Iterator[str]:
    """The values of a code table: dict values, `**dict.fromkeys(keys, value)`, `|=` updates."""
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values, strict=True):
            yield from _table_values(value) if key is None else _words(value)
    elif isinstance(node, ast.Call) and _called(node) == "fromkeys" and len(node.args) == 2:
        yield from _words(node.args[1])
    elif isinstance(node, ast.BinOp):
        yield from _table_values(node.left)
        yield from _table_values(node.right)


def _names(target: ast.AST) -> set[str]:
    if isinstance(target, ast.Tuple):
        return {name for element in target.elts for name in _names(element)}
    return {target.id} if isinstance(target, ast.Name) else set()


def _codes_in(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield from _call_codes(node)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {name for target in targets for name in _names(target)}
            if any(TABLE.search(name) for name in names):
                yield from _table_values(node.value)
            elif names & CODE_NAMES:
                yield from _words(node.value)
        elif isinstance(node, ast.FunctionDef):
            arguments = node.args.args[len(node.args.args) - len(node.args.defaults) :]
            for argument, default in zip(arguments, node.args.defaults, strict=True):
                if argument.arg in CODE_NAMES:
                    yield from _words(default)


def _call_codes(node: ast.Call) -> Iterator[str]:
    if _called(node) == "ProviderRejectedError" and node.args:
        yield from _words(node.args[0])
    for keyword in node.keywords:
        if keyword.arg in {"error_code", "refused"}:
            yield from _words(keyword.value)


def produced_codes(provider: str) -> dict[str, str]:
    """Every code of ours the plugin's package (and the base it builds on) writes: code -> where."""
    package = Path(sys.modules[type(PROVIDERS[provider]).__module__].__file__ or ".").parent
    paths = [Path(sys.modules["workers.providers.base"].__file__ or "."), *sorted(package.rglob("*.py"))]
    found: dict[str, str] = {}
    for path in paths:
        if NOT_REPORTS.search(path.name) or any(NOT_REPORTS.search(part) for part in path.parts[-2:-1]):
            continue
        for code in _codes_in(ast.parse(path.read_text(), str(path))):
            found.setdefault(code, str(path))
    return found


def test_failures_the_scan_sees_the_plugins_codes() -> None:
    """The scan is not blind: it finds codes each kind of writing uses."""
    assert {"upstream_output_expired", "unknown_model", "upstream_billing"} <= set(
        produced_codes("replicate")
    )
    assert {"model_not_available", "moderation_blocked"} <= set(produced_codes("sora"))
    assert {"upstream_plan", "upstream_account", "upstream_quota"} <= set(produced_codes("hailuo"))
    assert {"invalid_input", "upstream_failed", "moderation_blocked"} <= set(produced_codes("suno"))
    assert {"upstream_cancelled", "cancel_refused", "not_supported"} <= set(produced_codes("runway"))


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_failures_every_code_a_plugin_produces_is_catalogued(provider: str) -> None:
    stray = {code: where for code, where in produced_codes(provider).items() if code not in CATALOGUE}
    assert stray == {}, f"{provider} produces codes outside schemas.failures"


# --- the core holds the line --------------------------------------------------------------------------


def test_failures_lifecycle_refuses_an_uncatalogued_code(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    job_id = create(db, tenant, settings, "kling", "text2video")
    with (
        db.transaction() as session,
        pytest.raises(InvalidTransitionError, match="not in the failure catalogue"),
    ):
        advance(session, job_id, S.QUEUED, Change(S.FAILED, columns={"error_code": "made_up"}))


def test_failures_a_report_with_an_uncatalogued_code_is_mapped_and_logged(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(upstream_api_key="sk-channel-secret-0123456789")
    job_id = create(db, tenant, settings, "kling", "text2video")
    report = ProviderUpdate(
        UpstreamStatus.FAILED,
        "failed",
        error_code="gpu_on_fire",
        error_message="the GPU caught fire",
        provider_code="E" * 100,
        provider_message="fire, key sk-channel-secret-0123456789",
    )
    with db.transaction() as session:
        advance(session, job_id, S.QUEUED, Change(S.SUBMITTING))
        advance(session, job_id, S.SUBMITTING, Change(S.RUNNING))
        with caplog.at_level(logging.WARNING, logger="orchestrator.pipeline.failures"):
            assert tracking.apply_update(session, settings, job_id, report) is not None
        job = session.get(Job, job_id)
        assert job is not None
        error = job_snapshot(job)["error"]
    assert "gpu_on_fire" in caplog.text
    assert (error["code"], error["message"], error["retryable"]) == (
        "upstream_failed",
        "the GPU caught fire",
        True,
    )
    assert error["provider"]["code"] == "E" * 64
    assert "sk-channel-secret" not in error["provider"]["message"]


# --- every documented upstream failure, through the simulator -----------------------------------------


@dataclass(frozen=True)
class Case:
    """One documented failure: refused at submit (`refused`) or a task that ends failed with the
    provider's `code`; the code of ours it must end with, and the provider's code the job shows."""

    provider: str
    code: str | None
    expect: str
    refused: bool = False
    result: str = "fail"
    message: str | None = None
    shown: str | None = "same"  # the provider code the job shows: "same" as `code`

    @property
    def id(self) -> str:
        return f"{self.provider}-{'refused' if self.refused else 'task'}-{self.code or self.result}"


def refusals(provider: str, table: dict[str, list[str]]) -> list[Case]:
    return [Case(provider, code, expect, refused=True) for expect, codes in table.items() for code in codes]


UNAVAILABLE = "upstream_unavailable"  # not now: retried until the attempts run out (one, here)
CASES = [
    # Kling §2.5: request-level codes; a task's failure is words only (task_status_msg).
    *refusals(
        "kling",
        {
            "moderation_blocked": ["1300", "1301"],
            "invalid_input": ["1200", "1201", "1202", "1203"],
            UNAVAILABLE: ["1000", "1001", "1002", "1003", "1004", "1100", "1101", "1102", "1302", "1303"],
        },
    ),
    Case("kling", None, "upstream_failed", message="internal generation error"),
    Case("kling", None, "moderation_blocked", result="moderation"),
    # Midjourney §1.2, §1.5: business codes at submit, FAILURE + failReason later.
    *refusals(
        "midjourney",
        {"moderation_blocked": ["24"], "invalid_input": ["3", "4"], UNAVAILABLE: ["23", "9", "5"]},
    ),
    Case("midjourney", None, "upstream_failed", message="任务超时"),
    Case("midjourney", None, "moderation_blocked", result="moderation"),
    # Runway §3c: FAILED + failureCode.
    Case("runway", "SAFETY.INPUT.TEXT", "moderation_blocked"),
    Case("runway", "SAFETY.INPUT.IMAGE", "moderation_blocked"),
    Case("runway", "SAFETY.OUTPUT.VIDEO", "moderation_blocked"),
    Case("runway", "INTERNAL.BAD_OUTPUT.CODE01", "upstream_failed"),
    Case("runway", "ASSET.INVALID", "invalid_input"),
    # Suno §4.5: non-`success` codes at submit, FAILURE + the clips' error_type later.
    *refusals("suno", {"invalid_input": ["invalid_request", "prompt_empty"]}),
    Case("suno", "internal_error", "upstream_failed"),
    Case("suno", "moderation", "moderation_blocked", result="moderation"),
    # Veo §5a: failed + error{code, message}.
    Case("veo", "generation_failed", "upstream_failed"),
    Case("veo", "content_policy_violation", "moderation_blocked", result="moderation"),
    # Sora §3.6: failed + error{code, message}.
    Case("sora", "video_generation_failed", "upstream_failed"),
    Case("sora", "moderation_blocked", "moderation_blocked", result="moderation"),
    # Replicate §4.5: problems by HTTP status at submit, failed + error later.
    *refusals("replicate", {"upstream_billing": ["402"], "unknown_model": ["404"], "invalid_input": ["422"]}),
    Case("replicate", None, "upstream_failed", message="CUDA out of memory"),
    Case("replicate", None, "moderation_blocked", message="NSFW content detected in the output"),
    # MiniMax §1.5: every base_resp.status_code, at submit and as a task's failure.
    *refusals(
        "hailuo",
        {
            "moderation_blocked": ["1026", "1027"],
            "invalid_input": ["1039", "1042", "2013"],
            "upstream_auth": ["1004", "2049"],
            "upstream_account": ["2038"],
            "upstream_billing": ["1008"],
            "upstream_quota": ["2056"],
            "upstream_plan": ["2061"],
            UNAVAILABLE: ["1000", "1001", "1002", "1024", "1033", "1041"],
        },
    ),
    Case("hailuo", "1027", "moderation_blocked"),
    Case("hailuo", "1026", "moderation_blocked"),
    Case("hailuo", "1000", "upstream_failed"),
    # Seedance §2.5: Ark's codes at submit, failed / expired / cancelled tasks.
    *refusals(
        "seedance",
        {
            "invalid_input": ["MissingParameter", "InvalidParameter"],
            "moderation_blocked": [
                "InputTextSensitiveContentDetected",
                "InputImageSensitiveContentDetected",
                "SensitiveContentDetected.SevereViolation",
                "SensitiveContentDetected.Violence",
                "InputImageSensitiveContentDetected.PrivacyInformation",
                "InputVideoSensitiveContentDetected.PrivacyInformation",
            ],
            "upstream_auth": ["AuthenticationError", "AccessDenied"],
            "upstream_billing": ["AccountOverdueError"],
            "upstream_plan": ["InvalidEndpoint.NotFound"],
            "upstream_quota": ["SetLimitExceeded"],
            UNAVAILABLE: [
                "InvalidEndpoint.ClosedEndpoint",
                "RateLimitExceeded.EndpointRPMExceeded",
                "RateLimitExceeded.EndpointTPMExceeded",
                "QuotaExceeded",
                "ServerOverloaded",
                "InternalServiceError",
            ],
        },
    ),
    Case("seedance", "OutputVideoSensitiveContentDetected", "moderation_blocked"),
    Case("seedance", "InternalServiceError", "upstream_failed"),
    Case("seedance", None, "upstream_expired", result="expired"),
    Case("seedance", None, "upstream_cancelled", result="cancelled"),
]


def test_failures_every_provider_has_documented_cases() -> None:
    assert {case.provider for case in CASES} == set(PROVIDERS) - {"acme"}


# The operation each provider's cases run: one whose failure carries the provider's own code (a Suno
# song's clips have an error_type, its lyrics do not).
OPERATIONS = {"suno": "music"}


def _operation(provider: str) -> str:
    own = sorted(operation for name, operation in standalone_operations() if name == provider)
    return OPERATIONS.get(provider, own[0])


def _shown(case: Case) -> str | None:
    if case.expect == UNAVAILABLE:
        return None  # the provider's words are in the message: retries are not refusals
    return case.code if case.shown == "same" else case.shown


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_failures_documented_upstream_failure_lands_on_a_catalogue_code(
    case: Case,
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    if case.refused:
        simulator.refuse(
            case.provider, [Refusal(fault=SubmitFault.REJECTED, code=case.code, message="refused")]
        )
    else:
        outcome = Outcome(result=case.result, code=case.code, message=case.message)  # type: ignore[arg-type]
        simulator.script(case.provider, [outcome])
    settings = make_settings(max_submit_attempts=1)
    job = run(db, http, settings, create(db, tenant, settings, case.provider, _operation(case.provider)))
    with db.transaction() as session:
        assert audit.find_breaches(session) == []
    error = job_snapshot(job)["error"]
    assert job.state in {"failed", "expired", "cancelled"}
    assert job.charged == 0
    assert error["code"] == case.expect, error
    assert error["retryable"] is CATALOGUE[case.expect].retryable
    assert error["message"]
    shown = _shown(case)
    if shown is not None:
        assert error["provider"] is not None, error
        assert error["provider"]["code"] == shown, error
    if case.message and not case.refused:
        assert error["provider"] is not None, error
        assert case.message in error["provider"]["message"], error


def test_failures_a_submit_never_confirmed_ends_submit_unconfirmed(
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    """Veo cannot be asked for a task by our id: a lost submit answer holds the job to its deadline,
    where it ends saying so, not "too slow"."""
    simulator.configure(read_timeout_rate=1.0, stall_s=5.0)
    settings = make_settings()
    job_id = create(db, tenant, settings, "veo", _operation("veo"))
    with httpx.Client(timeout=0.3) as impatient:
        assert submission.submit(db, impatient, settings, job_id) is S.SUBMITTING
    simulator.configure(read_timeout_rate=0.0)
    with db.transaction() as session:
        session.execute(update(Job).where(Job.job_id == job_id).values(deadline_at=datetime.now(UTC)))
    assert reconciliation.reconcile(db, http, settings, job_id) is S.EXPIRED
    with db.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        error = job_snapshot(job)["error"]
        assert audit.find_breaches(session) == []
    assert (job.state, job.charged) == ("expired", 0)
    assert (error["code"], error["retryable"], error["provider"]) == ("submit_unconfirmed", True, None)
