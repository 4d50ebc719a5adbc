"""The OpenAPI document of genrelay's own routes (not the provider-compatible ones): every error status
with `ErrorResponse`, input rules stated as the code enforces them, links from creates, references
that resolve; and the API answering as the document says."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import redis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings, strategies
from pydantic import ValidationError
from sqlalchemy import func, select

from orchestrator.api import create_app
from orchestrator.api.routes_streams import ACCOUNT_EVENT_ID, JOB_EVENT_ID
from orchestrator.api.storable import STORABLE_DEPTH
from orchestrator.db import Database
from orchestrator.errors import InvalidRequestError
from orchestrator.models import Job
from orchestrator.pricing import load_price_table
from orchestrator.settings import Settings
from orchestrator.tenants import idempotency, streams
from orchestrator.tenants.creating import resolve_provider, validate_input
from schemas.admin import DECIMAL_CREDITS, MULTIPLIER, AccountLimits, CreditAmount
from schemas.batches import CUSTOM_ID_PATTERN, MAX_CUSTOM_ID
from schemas.free_form import MAX_NESTING, TOO_DEEP
from schemas.jobs import CURSOR_PATTERN, IDEMPOTENCY_KEY_PATTERN, JobCreate
from tests.contract_hooks import from_lines, to_lines, unique_custom_ids
from tests.factories import Tenant, kling_request
from workers.providers import PROVIDERS
from workers.providers.compat import CompatError
from workers.providers.midjourney.schemas import ACTION_PATTERNS, MidjourneyActionInput, action_kind

ADMIN_TOKEN = "admin-" + "y" * 30
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
OWN_TAGS = {"jobs", "batches", "webhooks", "account", "files", "callbacks", "health", "admin"}
ERROR_REF = "#/components/schemas/ErrorResponse"


@pytest.fixture
def client(make_settings: Callable[..., Settings], db: Database, broker: redis.Redis) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(admin_token=ADMIN_TOKEN)), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """The document as a process without a database makes it (as a published file would be)."""
    return create_app(Settings(database_url="postgresql+psycopg://unused/unused")).openapi()


def own_operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if set(operation.get("tags", [])) & OWN_TAGS:
                yield method, path, operation


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_document_error_statuses_carry_the_error_schema(document: dict[str, Any]) -> None:
    for method, path, operation in own_operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400 or path == "/readyz":
                continue
            assert response["content"] == {"application/json": {"schema": {"$ref": ERROR_REF}}}, (
                method,
                path,
                status,
            )
            assert response["description"]


def test_document_own_routes_document_their_auth_and_limits(document: dict[str, Any]) -> None:
    for method, path, operation in own_operations(document):
        responses = operation["responses"]
        security = operation.get("security")
        if security == [{"HTTPBearer": []}]:
            assert {"401", "429"} <= responses.keys(), (method, path)
            assert responses["401"]["headers"]["WWW-Authenticate"]
            assert responses["429"]["headers"]["Retry-After"]
        elif security == [{"AdminToken": []}]:
            assert {"401", "403"} <= responses.keys(), (method, path)
            assert "429" not in responses, (method, path)
        else:
            assert "401" not in responses or path.startswith("/v1/files/"), (method, path)
        if "requestBody" in operation:
            assert {"413", "422"} <= responses.keys(), (method, path)


def test_document_has_no_validation_error_body_on_own_routes(document: dict[str, Any]) -> None:
    text = json.dumps([operation for _, _, operation in own_operations(document)])
    assert "HTTPValidationError" not in text
    # A header or query parameter is a string or absent, never `null`.
    for _, _, operation in own_operations(document):
        for parameter in operation.get("parameters", []):
            assert {"type": "null"} not in parameter["schema"].get("anyOf", []), parameter


def test_document_references_resolve(document: dict[str, Any]) -> None:
    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in {"$ref", "operationRef"}:
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for item in node:
                yield from refs(item)

    found = list(refs(document))
    assert found
    for ref in found:
        resolve(document, ref)  # a KeyError names what does not resolve


def test_document_links_from_creates_to_what_takes_their_ids(document: dict[str, Any]) -> None:
    def linked(path: str, method: str, status: str) -> dict[str, str]:
        links = document["paths"][path][method]["responses"][status]["links"]
        return {name: link["operationRef"] for name, link in links.items()}

    jobs = linked("/v1/jobs", "post", "202")
    assert len(jobs) == 7
    assert all(ref.startswith("#/paths/~1v1~1jobs~1{job_id}") for ref in jobs.values())
    assert len(linked("/v1/batches", "post", "202")) == 3
    assert linked("/v1/jobs/{job_id}/deliveries", "get", "200") == {
        "PostRedeliver": "#/paths/~1v1~1webhooks~1{event_id}~1redeliver/post"
    }
    assert len(linked("/admin/v1/accounts", "post", "201")) == 7
    for path, method, status in [
        ("/v1/jobs", "post", "202"),
        ("/v1/batches", "post", "202"),
        ("/admin/v1/accounts", "post", "201"),
    ]:
        for link in document["paths"][path][method]["responses"][status]["links"].values():
            target = resolve(document, link["operationRef"])
            names = {parameter["name"] for parameter in target.get("parameters", [])}
            assert set(link["parameters"]) <= names


def test_document_job_create_is_one_variant_per_offered_operation(document: dict[str, Any]) -> None:
    prices = load_price_table(None)
    variants = document["components"]["schemas"]["JobCreate"]["oneOf"]
    named = {(v["properties"]["provider"]["const"], v["properties"]["operation"]["const"]) for v in variants}
    offered = {
        (p, o) for p, provider in PROVIDERS.items() for o in provider.operations if prices.models(p, o)
    }
    assert named == offered
    for variant in variants:
        provider, operation = (
            variant["properties"]["provider"]["const"],
            variant["properties"]["operation"]["const"],
        )
        assert variant["properties"]["model"]["enum"] == prices.models(provider, operation)
        resolve(document, variant["properties"]["input"]["$ref"])


def test_document_content_types_of_streams_files_and_metrics(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert set(paths["/metrics"]["get"]["responses"]["200"]["content"]) == {
        "text/plain",
        "application/openmetrics-text",
    }
    results = paths["/v1/batches/{batch_id}/results"]["get"]["responses"]["200"]["content"]
    assert results["application/jsonl"]["schema"]["items"] == {"$ref": "#/components/schemas/BatchResult"}
    body = paths["/v1/batches"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/jsonl", "application/x-ndjson"}
    assert set(paths["/readyz"]["get"]["responses"]) == {"200", "503"}


def test_api_empty_cursor_is_the_first_page_and_a_foreign_one_is_refused(
    client: TestClient, tenant: Tenant
) -> None:
    assert client.post("/v1/jobs", json=kling_request(), headers=tenant.headers).status_code == 202
    for path in ("/v1/jobs", "/v1/batches"):
        first = client.get(path, params={"cursor": ""}, headers=tenant.headers)
        assert first.status_code == 200, first.text
        refused = client.get(path, params={"cursor": "not-one-of-ours"}, headers=tenant.headers)
        assert refused.status_code == 422
        assert refused.json()["error"]["fields"][0]["field"] == "cursor"
    assert len(client.get("/v1/jobs", params={"cursor": ""}, headers=tenant.headers).json()["data"]) == 1


def test_api_stream_resume_points_are_checked_before_the_stream(client: TestClient, tenant: Tenant) -> None:
    for headers in ({"Last-Event-ID": "null"}, {"Last-Event-ID": "12-x"}):
        refused = client.get("/v1/jobs/stream", headers={**tenant.headers, **headers})
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize(
    "value",
    ["", "0", "123456789", "1234567890", "1a", "١٢", "1-2", "-", "00000000000000000001-1", "7-8 "],
)
def test_stream_event_id_patterns_say_what_the_cursors_take(value: str) -> None:
    def taken(parse: Callable[[str], object]) -> bool:
        try:
            parse(value)
        except InvalidRequestError:
            return False
        return True

    for pattern, parse in [(JOB_EVENT_ID, streams.job_cursor), (ACCOUNT_EVENT_ID, streams.account_cursor)]:
        matches = re.fullmatch(pattern.strip("^$"), value) is not None
        if value.isascii():
            assert matches == taken(parse), (pattern, value)
        else:  # other scripts' digits, which `int` reads, are refused by the route's pattern
            assert not matches


@pytest.mark.parametrize("key", ["k", "a" * 255, "a" * 256, "é", "tab\there", " spaced ", "in side", "\x7f"])
def test_idempotency_key_pattern_says_what_the_check_takes(key: str) -> None:
    try:
        idempotency.validate_key(key)
        taken = True
    except InvalidRequestError:
        taken = False
    assert bool(re.fullmatch(IDEMPOTENCY_KEY_PATTERN.strip("^$"), key)) == taken


def test_cursor_pattern_is_what_next_cursor_looks_like(client: TestClient, tenant: Tenant) -> None:
    for _ in range(2):
        client.post("/v1/jobs", json=kling_request(), headers=tenant.headers)
    page = client.get("/v1/jobs", params={"limit": 1}, headers=tenant.headers).json()
    assert re.fullmatch(CURSOR_PATTERN.strip("^$"), page["next_cursor"])


def test_credit_and_multiplier_patterns_say_what_the_amounts_take() -> None:
    digits = ["0", "00", "1", "01", "9", "10", "99", "100", "101", "999", "0100", "1" * 12, "1" * 13]
    fractions = ["", ".0", ".000000", ".5", ".000001", ".0000001", ".1234567", "."]
    for whole, fraction in itertools.product(digits, fractions):
        text = whole + fraction
        shaped = re.fullmatch(r"[0-9]{1,12}(\.[0-9]{1,6})?", text) is not None
        positive = shaped and Decimal(text) > 0
        assert (re.fullmatch(DECIMAL_CREDITS.strip("^$"), text) is not None) == positive, text
        multiplier = shaped and len(whole) <= 3 and 0 < Decimal(text) <= 100
        assert (re.fullmatch(MULTIPLIER.strip("^$"), text) is not None) == multiplier, text


def test_credit_amount_is_exactly_one_of_its_forms() -> None:
    assert CreditAmount.model_validate({"micro_credits": 5, "credits": None}).micro_credits == 5
    for both_or_neither in ({"micro_credits": 5, "credits": "1"}, {}, {"credits": None}):
        with pytest.raises(ValidationError):
            CreditAmount.model_validate(both_or_neither)


@pytest.mark.parametrize("value", [True, "5", 5.5, 0, 2**31])
def test_integers_are_json_integers(value: object) -> None:
    with pytest.raises(ValidationError):
        AccountLimits.model_validate_json(json.dumps({"rate_limit_rps": value}))
    with pytest.raises(ValidationError):
        JobCreate.model_validate_json(json.dumps({**kling_request(), "deadline_s": value}))
    assert AccountLimits.model_validate_json('{"rate_limit_rps": 5.0}').rate_limit_rps == 5


def test_api_refuses_text_postgresql_cannot_store(client: TestClient, tenant: Tenant) -> None:
    keys = client.post(f"/admin/v1/accounts/{tenant.account_id}/keys", json={"name": "a\x00b"}, headers=ADMIN)
    assert keys.status_code == 422
    job = client.post("/v1/jobs", json=kling_request(metadata={"k": "a\x00b"}), headers=tenant.headers)
    assert job.status_code == 422


def test_api_metadata_values_keep_their_json_type(client: TestClient, tenant: Tenant) -> None:
    """Text too long to keep is refused, not read as the number it spells; numbers stay numbers."""
    long_digits = client.post(
        "/v1/jobs", json=kling_request(metadata={"k": "0" * 600}), headers=tenant.headers
    )
    assert long_digits.status_code == 422, long_digits.text
    kept = client.post(
        "/v1/jobs", json=kling_request(metadata={"n": 5, "x": 5.5, "t": "05"}), headers=tenant.headers
    )
    assert kept.status_code == 202, kept.text
    assert kept.json()["metadata"] == {"n": 5, "x": 5.5, "t": "05"}


def test_api_errors_write_out_the_nul_they_quote(client: TestClient, tenant: Tenant) -> None:
    """An error that names a key holding a NUL quotes it as `\\u0000`: its body stays within the
    document's own rule for text, in the API's envelope and in a family's."""
    job = client.post("/v1/jobs", json=kling_request(metadata={"a\x00b": "c"}), headers=tenant.headers)
    assert job.status_code == 422
    error = job.json()["error"]
    quoted = [error["message"], *(problem["field"] for problem in error["fields"])]
    assert all("\x00" not in text for text in quoted)
    assert "metadata.a\\u0000b" in error["message"]
    assert any(text.startswith("metadata.a\\u0000b") for text in quoted)
    family = CompatError(422, "validation_error", "a\x00b: must be a string", field="a\x00b")
    assert (family.message, family.field) == ("a\\u0000b: must be a string", "a\\u0000b")


def test_api_wrong_method_names_every_method_of_the_path(client: TestClient, tenant: Tenant) -> None:
    for path, allowed in [
        ("/v1/batches", "GET, POST"),
        ("/v1/jobs", "GET, POST"),
        ("/volc/v3/contents/generations/tasks/x", "DELETE, GET"),  # a family's two routes of one path
        ("/runwayml/v1/tasks/x", "DELETE, GET"),
    ]:
        response = client.request("OPTIONS", path, headers=tenant.headers)
        assert response.status_code == 405
        assert response.headers["Allow"] == allowed
        assert response.json()["error"]["code"] == "method_not_allowed"


def test_api_batch_results_errors_are_json(client: TestClient, tenant: Tenant) -> None:
    missing = client.get("/v1/batches/0193f7c2-0000-7000-8000-000000000000/results", headers=tenant.headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/json"


def test_contract_hooks_write_and_read_json_lines() -> None:
    lines = [{"custom_id": "a", "body": {}}, {"custom_id": "b", "body": {}}]
    assert to_lines(lines) == b'{"custom_id":"a","body":{}}\n{"custom_id":"b","body":{}}\n'
    assert from_lines(to_lines(lines)) == lines
    assert to_lines("not a list") == b'"not a list"\n'


def test_contract_hooks_make_a_batch_custom_ids_unique_as_a_client_does() -> None:
    long = "x" * MAX_CUSTOM_ID
    lines: list[Any] = [{"custom_id": c} for c in ["0", "0", "0.1.0", long, long, "bad id", "bad id"]]
    unique_custom_ids(lines)
    kept = [line["custom_id"] for line in lines]
    assert kept[:2] == ["0", "0.1.0"]
    assert kept[2] not in kept[:2]  # an id made for a line is not made again
    assert kept[3] == long
    assert kept[4] != long
    assert len(kept[4]) == MAX_CUSTOM_ID
    assert all(re.fullmatch(CUSTOM_ID_PATTERN, custom_id) for custom_id in kept[:5])
    assert kept[5:] == ["bad id", "bad id"]  # the schema forbids them: the checks send them as they are


ACTION_INPUT = jsonschema.Draft202012Validator(MidjourneyActionInput.model_json_schema())
ACTION_KINDS = {kind for _, kind in ACTION_PATTERNS} | {"other"}


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    before=strategies.text(max_size=8),
    button=strategies.sampled_from([pattern for pattern, _ in ACTION_PATTERNS] + ["MJ::JOB::other::1"]),
    after=strategies.text(max_size=8),
    upper=strategies.booleans(),
)
def test_document_states_which_action_a_midjourney_custom_id_names(
    before: str, button: str, after: str, upper: bool
) -> None:
    """The document's rule and the code agree: an action input's `action` is its custom_id's kind."""
    custom_id = before + (button.upper() if upper else button) + after
    named = {"parent_job_id": "p", "custom_id": custom_id}
    taken = {kind for kind in ACTION_KINDS if ACTION_INPUT.is_valid({**named, "action": kind})}
    assert taken == {action_kind(custom_id)}


def _nested(levels: int) -> Any:
    """Text in `levels` arrays and objects, one in the other."""
    value: Any = "x"
    for level in range(levels):
        value = {"k": value} if level % 2 else [value]
    return value


@pytest.mark.parametrize("levels", [MAX_NESTING, 600])
def test_api_refuses_a_body_nested_deeper_than_it_takes(
    client: TestClient, tenant: Tenant, db: Database, levels: int
) -> None:
    """No job and no 500 for a body nested past the bound, however deep (a thousand levels would exhaust
    whatever walks or copies it); the bound itself is taken."""
    edits = {"prompt": "a cat", "image": "data:image/png;base64,AAAA"}
    family = {**tenant.headers, "Idempotency-Key": f"deep-{levels}"}
    refused = client.post("/mj/submit/edits", json={**edits, "extra": _nested(levels)}, headers=family)
    assert refused.status_code == 400, refused.text
    assert refused.json()["description"] == TOO_DEEP
    deep_input = kling_request(input={"prompt": "x", "a": _nested(levels)})
    job = client.post("/v1/jobs", json=deep_input, headers=tenant.headers)
    assert job.status_code == 422, job.text
    assert TOO_DEEP in job.json()["error"]["message"]
    taken = client.post("/mj/submit/edits", json={**edits, "extra": _nested(MAX_NESTING - 1)}, headers=family)
    assert taken.status_code == 200, taken.text
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 1


PUBLISHED = Path(__file__).resolve().parent.parent / "openapi.json"


def _text_patterns(schema: Any) -> Iterator[str]:
    if isinstance(schema, list):
        for item in schema:
            yield from _text_patterns(item)
    elif isinstance(schema, dict):
        if schema.get("type") == "string" and isinstance(schema.get("pattern"), str):
            yield schema["pattern"]
        for key, value in schema.items():
            if key not in {"example", "examples", "default", "const", "enum"}:
                yield from _text_patterns(value)


DOCUMENT_TEXT_PATTERNS = sorted(set(_text_patterns(json.loads(PUBLISHED.read_text())["components"])))


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=strategies.data())
def test_every_text_pattern_of_the_document_refuses_a_nul(data: strategies.DataObject) -> None:
    """Text a pattern takes may hold no NUL, wherever it is put: the API refuses it in all text it keeps."""
    pattern = data.draw(strategies.sampled_from(DOCUMENT_TEXT_PATTERNS))
    text = data.draw(strategies.from_regex(pattern))
    at = data.draw(strategies.integers(0, len(text)))
    assert re.search(pattern, text)
    assert not re.search(pattern, text[:at] + "\x00" + text[at:]), pattern


def test_document_open_objects_name_their_keys_and_values_storable() -> None:
    """An object that takes more properties than it lists (it keeps them) takes keys and values without a
    NUL, to the depth its free-form value is spelled out (`StorableValue`, unrolled for generated
    clients); one that says nothing of others ignores them."""
    schemas = json.loads(PUBLISHED.read_text())["components"]["schemas"]
    open_objects = [
        schema
        for schema in _schemas(
            [used for name, used in schemas.items() if not name.startswith("StorableValue")]
        )
        if schema.get("type") == "object" and schema.get("additionalProperties", False) is not False
    ]
    assert open_objects
    for schema in open_objects:
        assert re.search(schema["propertyNames"]["pattern"], "key") is not None
        assert re.search(schema["propertyNames"]["pattern"], "k\x00y") is None
        assert schema["additionalProperties"] not in ({}, True)
    depth, name = 1, "StorableValue"
    while (inner := schemas[name]["anyOf"][4]["items"]) != {}:
        depth, name = depth + 1, inner["$ref"].rsplit("/", 1)[-1]
    assert depth == STORABLE_DEPTH


def _schemas(schema: Any) -> Iterator[dict[str, Any]]:
    if isinstance(schema, list):
        for item in schema:
            yield from _schemas(item)
    elif isinstance(schema, dict):
        yield schema
        for key, value in schema.items():
            if key not in {"example", "examples", "default", "const", "enum", "properties"}:
                yield from _schemas(value)
            elif key == "properties":
                yield from _schemas(list(value.values()))


URL = "https://example.com/a.png"
PARENT = "01a24da6-3861-7342-a807-e4303cc9a037"


@pytest.mark.parametrize(
    ("provider", "operation", "model", "job_input", "accepted"),
    [
        ("hailuo", "image2video", "I2V-01", {"first_frame_image": "0"}, False),
        ("hailuo", "image2video", "I2V-01", {"first_frame_image": "data:image/png;base64,AA=="}, True),
        (
            "hailuo",
            "text2video",
            "MiniMax-Hailuo-02",
            {"prompt": "x", "duration": 10, "resolution": "1080P"},
            False,
        ),
        (
            "hailuo",
            "text2video",
            "MiniMax-Hailuo-02",
            {"prompt": "x", "duration": 10, "resolution": "768P"},
            True,
        ),
        ("hailuo", "text2video", "T2V-01", {"prompt": "x", "duration": 10}, False),
        ("hailuo", "image2video", "I2V-01-live", {"first_frame_image": URL, "duration": 6}, True),
        ("runway", "text_to_video", "veo3", {"promptText": "x", "duration": 4}, False),
        ("runway", "text_to_video", "veo3.1", {"promptText": "x", "duration": 4}, True),
        ("seedance", "text2video", "seedance-1-0-pro-250528", {"prompt": "x", "duration": 15}, False),
        ("seedance", "text2video", "seedance-2-0-260128", {"prompt": "x", "duration": 15}, True),
        (
            "seedance",
            "text2video",
            "doubao-seedance-1-0-pro-250528",
            {"prompt": "x", "generate_audio": True},
            False,
        ),
        ("seedance", "text2video", "seedance-1-5-pro-251215", {"prompt": "x", "resolution": "1080p"}, False),
        ("seedance", "text2video", "seedance-2-0-260128", {"prompt": "a boat --rs 720p"}, False),
        ("seedance", "text2video", "seedance-2-0-260128", {"prompt": "a boat--rs"}, True),
        ("seedance", "text2video", "seedance-2-0-260128", {"prompt": "x", "return_last_frame": 0}, False),
        ("seedance", "text2video", "seedance-2-0-260128", {"prompt": "x", "seed": False}, False),
        ("seedance", "reference2video", "seedance-2-0-260128", {"reference_images": ["0"]}, False),
        (
            "seedance",
            "reference2video",
            "seedance-2-0-260128",
            {"reference_images": [URL], "prompt": None},
            True,
        ),
        ("sora", "text_to_video", "sora-2", {"prompt": "x", "size": "1920x1080"}, False),
        ("sora", "text_to_video", "sora-2-pro", {"prompt": "x", "size": "1920x1080"}, True),
        ("sora", "image_to_video", "sora-2", {"prompt": "x", "input_reference": "boat.png"}, False),
        (
            "veo",
            "image_to_video",
            "veo3",
            {"prompt": "x", "image": URL, "lastFrame": URL, "durationSeconds": 4},
            False,
        ),
        (
            "veo",
            "image_to_video",
            "veo3",
            {"prompt": "x", "image": URL, "lastFrame": URL, "durationSeconds": 8},
            True,
        ),
        ("veo", "image_to_video", "veo3", {"prompt": "x", "image": "data:image/png;base64,A"}, False),
        ("kling", "avatar", "kling-avatar", {"image": URL}, False),
        ("kling", "avatar", "kling-avatar", {"image": URL, "audio_id": "a", "sound_file": URL}, False),
        ("kling", "avatar", "kling-avatar", {"image": URL, "audio_id": "a"}, True),
        (
            "kling",
            "lip_sync",
            "kling-lip-sync",
            {"video_url": URL, "mode": "text2video", "text": "hi", "voice_id": "v"},
            True,
        ),
        (
            "kling",
            "lip_sync",
            "kling-lip-sync",
            {"video_url": URL, "mode": "text2video", "text": "hi"},
            False,
        ),
        (
            "kling",
            "lip_sync",
            "kling-lip-sync",
            {"video_url": URL, "mode": "audio2video", "audio_file": "AA=="},
            True,
        ),
        (
            "kling",
            "lip_sync",
            "kling-lip-sync",
            {"video_url": URL, "mode": "audio2video", "audio_file": "AA==", "audio_type": "url"},
            False,
        ),
        (
            "kling",
            "lip_sync",
            "kling-lip-sync",
            {"parent_job_id": PARENT, "video_url": URL, "mode": "audio2video"},
            False,
        ),
        ("kling", "video_effects", "kling-v1-6", {"effect_scene": "hug", "image": URL}, False),
        ("kling", "video_effects", "kling-v1-6", {"effect_scene": "hug", "images": [URL, URL]}, True),
        ("kling", "text_to_audio", "kling-text-to-audio", {"prompt": "waves", "duration": 5.55}, False),
        ("kling", "text_to_audio", "kling-text-to-audio", {"prompt": "waves", "duration": 5.5}, True),
        ("kling", "video_to_audio", "kling-video-to-audio", {}, False),
        ("midjourney", "video", "midjourney-v7", {"motion": "low", "image": URL, "index": 0}, False),
        (
            "midjourney",
            "video",
            "midjourney-v7",
            {"motion": "low", "parent_job_id": PARENT, "index": 3},
            True,
        ),
        (
            "midjourney",
            "describe",
            "midjourney-v7",
            {"base64": "data:image/png,iVBORw0KGgoAAAANSUhEUg"},
            False,
        ),
        (
            "midjourney",
            "describe",
            "midjourney-v7",
            {"base64": "data:image/png;base64,iVBORw0KGgoAAAA"},
            True,
        ),
        (
            "midjourney",
            "edits",
            "midjourney-v7",
            {"prompt": "a boat", "image": "ftp://example.com/a.png"},
            False,
        ),
        ("replicate", "predict", "black-forest-labs/flux-schnell", {"input": {"num_outputs": 2.0}}, True),
        ("replicate", "predict", "black-forest-labs/flux-schnell", {"input": {"num_outputs": 5}}, False),
        ("suno", "lyrics", "suno_lyrics", {"prompt": "  "}, False),
        ("suno", "music", "chirp-v4", {}, False),
        ("suno", "music", "chirp-v4", {"prompt": "[Verse] la la"}, True),
        ("suno", "music", "chirp-v4", {"make_instrumental": True, "tags": "synth-pop"}, True),
        ("suno", "music", "chirp-v4", {"gpt_description_prompt": "a song", "tags": "pop"}, False),
        ("suno", "music", "chirp-v4", {"gpt_description_prompt": "a song", "mode": "custom"}, False),
        ("suno", "music", "chirp-v4", {"continue_clip_id": "c", "continue_at": 10, "task_id": "t"}, True),
        ("suno", "music", "chirp-v4", {"continue_clip_id": "c", "continue_at": 10}, False),
        (
            "suno",
            "music",
            "chirp-v4",
            {"prompt": "la", "task": "artist_consistency", "persona_id": "p"},
            False,
        ),
        ("suno", "music", "chirp-v4", {"prompt": "la", "persona_id": "p", "artist_clip_id": "c"}, False),
        ("suno", "persona", "suno_persona", {"parent_job_id": PARENT, "name": " "}, False),
        ("suno", "persona", "suno_persona", {"parent_job_id": PARENT, "name": "Ana", "clips": [""]}, False),
    ],
)
def test_document_job_inputs_state_what_intake_refuses(
    document: dict[str, Any],
    provider: str,
    operation: str,
    model: str,
    job_input: dict[str, Any],
    accepted: bool,
) -> None:
    """A job body is valid by `JobCreate`'s variant exactly when the intake takes its input."""
    body = {"provider": provider, "operation": operation, "model": model, "input": job_input}
    schema = {"$ref": "#/components/schemas/JobCreate", "components": document["components"]}
    valid = jsonschema.Draft202012Validator(schema).is_valid(body)
    _, input_model = resolve_provider(provider, operation)
    try:
        kept = validate_input(input_model, JobCreate.model_validate(body).input, model)
        load_price_table(None).quote(provider, operation, model, kept, 1_000_000)  # a length it has
        taken = True
    except InvalidRequestError:
        taken = False
    assert (valid, taken) == (accepted, accepted)
