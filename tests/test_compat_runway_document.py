"""The API document's Runway-compatible routes say what the routes do: a body the document allows is
accepted, one it forbids is refused in Runway's envelope, and the answers match their schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from tests.factories import Tenant
from tests.test_compat_runway import BASE, IMAGE, headers
from workers.providers.runway import document
from workers.providers.runway.routes import CREATES

VIDEO = "https://example.com/boat.mp4"
ACCEPTED: dict[str, list[dict[str, Any]]] = {
    "image_to_video": [
        {"promptImage": IMAGE},
        {
            "model": None,
            "promptImage": [{"uri": IMAGE}, {"uri": IMAGE, "position": "last"}],
            "duration": "10",
        },
        {"model": "gen4.5", "promptImage": IMAGE, "seed": 7, "watermark": False},
    ],
    "text_to_image": [
        {"model": "gen4_image_turbo", "promptText": "a keeper", "ratio": "1920:1080"},
        {"model": "gen4_image", "promptText": "a keeper", "callback_url": None},  # a typed client's unset
    ],
    "text_to_video": [
        {"model": "veo3", "promptText": "a boat", "callback_url": "https://example.com/hooks"},
        {"model": "veo3.1_fast", "promptText": "a boat", "duration": 4, "audio": False},
    ],
    "video_to_video": [{"model": "gen4_aleph", "promptText": "snow", "videoUri": VIDEO}],
    "video_upscale": [{"model": "upscale_v1", "videoUri": VIDEO}],
    "character_performance": [
        {
            "model": "act_two",
            "character": {"type": "video", "uri": VIDEO},
            "reference": {"type": "video", "uri": VIDEO},
            "bodyControl": True,
        }
    ],
}
REFUSED: dict[str, list[tuple[dict[str, Any], str]]] = {
    "image_to_video": [
        ({"model": {}, "promptImage": IMAGE}, "model"),
        ({"model": "gen9", "promptImage": IMAGE}, "model"),
        ({"promptImage": "http://example.com/a.png"}, "promptImage"),
        ({"promptImage": [{"uri": IMAGE, "position": "last"}] * 2}, "promptImage"),
        ({"promptImage": [{"uri": IMAGE}, {"uri": IMAGE}]}, "promptImage"),
        ({"promptImage": IMAGE, "seed": False}, "seed"),
        ({"promptImage": IMAGE, "watermark": 0}, "watermark"),
        ({"promptImage": IMAGE, "callback_url": {}}, "callback_url"),
        ({"promptImage": IMAGE, "callback_url": "ftp://example.com/hooks"}, "callback_url"),
    ],
    "text_to_image": [({"model": "gen4_image", "promptText": "x", "seed": "7"}, "seed")],
    "text_to_video": [
        ({"model": "veo3", "promptText": "a boat", "duration": 4}, "input"),  # the price list's rule
        ({"model": "veo3.1", "promptText": "a boat", "audio": 0}, "audio"),
    ],
    "video_to_video": [({"model": "gen4_aleph", "promptText": "snow"}, "input")],  # a rule of two fields
    "video_upscale": [
        (
            {"model": "upscale_v1", "videoUri": "https://example.com/a.mp4", "parentTaskId": "x"},
            "parentTaskId",
        ),
        ({"model": "upscale_v1", "videoUri": "data:image/png;base64,AAAA"}, "videoUri"),
        ({"model": "upscale_v1", "videoUri": VIDEO, "parentTaskId": None}, "parentTaskId"),
    ],
    "character_performance": [
        (
            {"model": "act_two", "reference": {"type": "video", "uri": IMAGE.replace("https", "ftp")}},
            "reference",
        ),
    ],
}


@pytest.fixture
def openapi(api: TestClient) -> dict[str, Any]:
    spec: dict[str, Any] = api.get("/openapi.json").json()
    return spec


def body_schema(openapi: dict[str, Any], operation: str) -> dict[str, Any]:
    post = openapi["paths"][f"{BASE}/{operation}"]["post"]
    return resolved(openapi, post["requestBody"]["content"]["application/json"]["schema"])


def resolved(openapi: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with the document's components beside it, for its `$ref`s."""
    return {**schema, "components": openapi["components"]}


def test_compat_runway_document_names_the_priced_models_and_the_version(openapi: dict[str, Any]) -> None:
    priced = document.priced_models(Path(document.__file__).with_name("prices.toml"))
    for operation in CREATES:
        post = openapi["paths"][f"{BASE}/{operation}"]["post"]
        (version,) = [p for p in post["parameters"] if p["name"] == document.VERSION_HEADER]
        assert (version["required"], version["schema"]["enum"]) == (True, ["2024-11-06"])
        schema = body_schema(openapi, operation)
        named = [
            value
            for variant in schema.get("anyOf", [schema])
            for option in variant["properties"]["model"].get("anyOf", [variant["properties"]["model"]])
            for value in option.get("enum", [option.get("const")])
            if value is not None
        ]
        assert sorted(set(named)) == sorted(priced[operation])
        links = post["responses"]["200"]["links"]
        assert {link["parameters"]["task_id"] for link in links.values()} == {"$response.body#/id"}
        assert post["responses"]["400"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/RunwayError"
        }
    task = openapi["paths"][f"{BASE}/tasks/{{task_id}}"]
    assert {"400", "404"} <= set(task["get"]["responses"])  # a wrong version header: 400
    assert {"400", "404", "409"} <= set(task["delete"]["responses"])


@pytest.mark.parametrize("operation", list(ACCEPTED))
def test_compat_runway_bodies_the_document_allows_are_accepted(
    api: TestClient, tenant: Tenant, openapi: dict[str, Any], operation: str
) -> None:
    schema = body_schema(openapi, operation)
    created = openapi["paths"][f"{BASE}/{operation}"]["post"]["responses"]["200"]["content"]
    for body in ACCEPTED[operation]:
        jsonschema.validate(body, schema)
        response = api.post(f"{BASE}/{operation}", json=body, headers=headers(tenant))
        assert response.status_code == 200, (body, response.text)
        jsonschema.validate(response.json(), created["application/json"]["schema"])
        task = api.get(f"{BASE}/tasks/{response.json()['id']}", headers=tenant.headers)
        task_schema = openapi["paths"][f"{BASE}/tasks/{{task_id}}"]["get"]["responses"]["200"]
        jsonschema.validate(task.json(), task_schema["content"]["application/json"]["schema"])


@pytest.mark.parametrize("operation", list(REFUSED))
def test_compat_runway_bodies_the_document_forbids_are_refused(
    api: TestClient, tenant: Tenant, openapi: dict[str, Any], operation: str
) -> None:
    schema = body_schema(openapi, operation)
    error = openapi["paths"][f"{BASE}/{operation}"]["post"]["responses"]["400"]["content"]
    for body, field in REFUSED[operation]:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(body, schema)
        response = api.post(f"{BASE}/{operation}", json=body, headers=headers(tenant))
        assert response.status_code in (400, 404), (body, response.text)
        refusal = response.json()
        jsonschema.validate(refusal, resolved(openapi, error["application/json"]["schema"]))
        if response.status_code == 400 and "issues" in refusal:
            assert refusal["issues"][0]["path"][0] == field, (body, refusal)


def test_compat_runway_body_of_undecodable_bytes_is_refused_in_runways_envelope(
    api: TestClient, tenant: Tenant
) -> None:
    sent = {**headers(tenant), "Content-Type": "application/json"}
    response = api.post(f"{BASE}/image_to_video", content=b'{"promptText": "\xff\xfe"}', headers=sent)
    assert response.status_code == 400
    assert response.json() == {"error": "the request body is not valid JSON", "code": "invalid_json"}
