"""The API contract: schemathesis, with every check and every phase (stateful included), over the whole
published document, as a client team would run it in its own CI: no undocumented status or content type,
no response outside its schema, no route that answers without its security scheme, no schema-valid
request refused and no request the schema forbids accepted. Where a provider's own protocol differs from
HTTP's (`PROTOCOL`), schemathesis is told so in its configuration, as a client team would; a rule JSON
Schema cannot state (unique ids in a batch, a fresh Idempotency-Key) the hooks keep as a client does
(`tests/contract_hooks.py`). Any finding fails the test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from orchestrator.api import create_app
from orchestrator.db import Database
from orchestrator.settings import Settings
from tests import services
from tests.factories import Tenant

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_PER_OPERATION = 25
PASSES = [("tenant", ["--exclude-tag", "admin"]), ("admin", ["--include-tag", "admin"])]
# Where a provider's own protocol differs from HTTP's, which a compatible route keeps for its clients:
# the operations (a path pattern, and a method or all), the checks as schemathesis is told to expect
# them there, and why.
PROTOCOL: list[tuple[str, str | None, dict[str, dict[str, Any]], str]] = [
    (
        "^/minimax/",
        None,
        {
            "ignored_auth": {"enabled": False},
            "missing_required_header": {"enabled": False},
            "negative_data_rejection": {
                "expected-statuses": [200, 400, 401, 403, 404, 405, 406, 409, 415, 422, 428, 429, "5xx"]
            },
        },
        "MiniMax answers every refusal, a missing key (1004) and a bad field included, with HTTP 200 "
        "and the code in base_resp (providers-more.md 1.2); its own client reads base_resp",
    ),
    (
        "^/suno/(fetch/|act/|persona/create$|submit/concat$|submit/music$)",
        None,
        {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", 400, 401, 403, 404, 409, 429, "5xx"]
            }
        },
        "Suno answers a task or clip id that names nothing in the account with HTTP 400 "
        "(`task_not_exist` for a task, providers.md 4.3); a well-formed id the fuzzer makes up names nothing",
    ),
    (
        "^/(volc|api)/v3/contents/generations/tasks/",
        "DELETE",
        {"use_after_free": {"enabled": False}},
        "Ark's DELETE cancels a queued task, which stays readable as cancelled",
    ),
    (
        "^/runwayml/v1/tasks/",
        "DELETE",
        {"use_after_free": {"enabled": False}},
        "Runway shows a deleted task as CANCELLED (providers.md 3a)",
    ),
    (
        "^/v1/jobs/[^/]+/data$",
        "DELETE",
        {"use_after_free": {"enabled": False}},
        "deleting a job's data deletes its files, input and result; the job stays readable, showing when",
    ),
]
# The document states that no text holds a NUL in every string and key it can name, free-form values
# (`StorableValue`, spelled out level by level) included; schemathesis is told so where a body holds one.
FREE_FORM = "#/components/schemas/StorableValue"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    # No beat runs here: readiness would rightly answer 503 once the sweep looked stale.
    return make_settings(rate_limit_rps=100_000, admin_token="admin-" + "c" * 30, sweep_stale_after_s=3600)


@pytest.fixture
def server(settings: Settings, db: Database, broker: redis.Redis) -> Iterator[str]:
    with services.serving(create_app(settings)) as running:
        yield running.url


def findings(failures: list[dict[str, Any]]) -> list[str]:
    """The findings of a report, as "code METHOD /path"."""
    return [f"{failure['code']} {operation}" for failure in failures for operation in failure["operations"]]


def schemathesis(
    server: str, configured: Path, report: Path, selection: list[str]
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """One `schemathesis run` over the `selection` of operations, and its JSON report. Every check runs,
    as by default: `--checks all` on the command line would override the operations' settings."""
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(configured),
            "run",
            f"{server}/openapi.json",
            *selection,
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--generation-deterministic",
            "--workers",
            "1",
            "--no-color",
            "--report",
            "json",
            "--report-json-path",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        # The hooks send JSON Lines bodies and a fresh Idempotency-Key per request.
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.contract_hooks", "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        check=False,
    )
    return run, json.loads(report.read_text())


def toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)  # a string, a number or a list of them reads the same in TOML


def config(document: dict[str, Any], tenant_key: str, admin_token: str) -> str:
    """A schemathesis config: every security scheme of the document with its credential (the admin
    token to the admin scheme, the tenant's key to every other, bearer or a family's own key header),
    the providers' protocols (`PROTOCOL`), and no NUL in the bodies that hold a free-form value."""
    lines = []
    for name, scheme in document["components"]["securitySchemes"].items():
        secret = admin_token if name == "AdminToken" else tenant_key
        field = "bearer" if scheme.get("scheme") == "bearer" else "api_key"
        lines += [f"[auth.openapi.{json.dumps(name)}]", f"{field} = {json.dumps(secret)}"]
    for path, method, checks, _ in PROTOCOL:
        lines += ["[[operations]]", f"include-path-regex = {toml(path)}"]
        lines += [f"include-method = {toml(method)}"] if method else []
        for check, settings in checks.items():
            lines += [f"checks.{check}.{key} = {toml(value)}" for key, value in settings.items()]
    free_form = [
        operation["operationId"]
        for operations in document["paths"].values()
        for operation in operations.values()
        if FREE_FORM in json.dumps(resolved(document, operation.get("requestBody", {})))
    ]
    lines += ["[[operations]]", f"include-operation-id = {toml(free_form)}", "generation.allow-x00 = false"]
    return "\n".join(lines) + "\n"


def resolved(document: dict[str, Any], schema: Any, seen: frozenset[str] = frozenset()) -> Any:
    """`schema` with the component references it holds replaced by their schemas (each once per path)."""
    if isinstance(schema, list):
        return [resolved(document, item, seen) for item in schema]
    if not isinstance(schema, dict):
        return schema
    reference = schema.get("$ref")
    if isinstance(reference, str) and reference.startswith("#/components/schemas/"):
        if reference == FREE_FORM or reference in seen:
            return {"$ref": reference}
        name = reference.rsplit("/", 1)[-1]
        return resolved(document, document["components"]["schemas"][name], seen | {reference})
    return {key: resolved(document, value, seen) for key, value in schema.items()}


@pytest.mark.fuzz
@pytest.mark.timeout(2400)
def test_schemathesis_with_every_check_finds_nothing_new(
    server: str, settings: Settings, make_tenant: Callable[..., Tenant], tmp_path: Path
) -> None:
    tenant = make_tenant(name="contract", credits=10**12)
    document = httpx.get(f"{server}/openapi.json").json()
    assert settings.admin_token is not None
    configured = tmp_path / "schemathesis.toml"
    configured.write_text(config(document, tenant.api_key, settings.admin_token.get_secret_value()))
    tested, found, said = 0, [], ""
    # The tenant's operations first: the admin operations may then disable the tenant or revoke its key.
    for name, selection in PASSES:
        run, result = schemathesis(server, configured, tmp_path / f"{name}.json", selection)
        said += f"--- {name}\n" + run.stdout[-15_000:] + run.stderr[-3_000:]
        operations = result["operations"]
        cases = result["test_cases"]["generated"]
        print(f"contract, {name}: {cases} cases over {operations['tested']} operations")
        # Every operation got past its security, but the download whose credential is a signed link.
        assert set(result["warnings"]["missing_auth"]) <= {"GET /v1/files/{key}"}, said
        assert result["errors"] == [], said
        assert result["phases"]["stateful"]["status"] in {"success", "failure"}, said  # it ran
        assert run.returncode == (1 if result["failures"] else 0), said
        found += sorted(set(findings(result["failures"])))
        print(f"contract, {name}: findings {found}")
        tested += operations["tested"]
    assert found == [], "findings:\n" + "\n".join(found) + "\n\n" + said
    assert tested == sum(len(ops) for ops in document["paths"].values())
