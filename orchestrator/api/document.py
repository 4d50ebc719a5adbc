"""The OpenAPI document's shared parts besides errors: links from an operation's answer to the
operations that take the id it returns, and the finishing of the generated document."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from orchestrator.api.job_variants import job_create_variants
from orchestrator.api.storable import forbid_nul_in_text, storable_value_schemas
from orchestrator.pricing import PriceTable
from workers.providers import PROVIDERS

VALIDATION_ERROR_REF = "#/components/schemas/HTTPValidationError"


def operation_ref(method: str, path: str) -> str:
    """A JSON pointer to an operation of this document (RFC 6901: `/` is written `~1`)."""
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method.lower()


def links(parameter: str, pointer: str, *targets: tuple[str, str]) -> dict[str, Any]:
    """OpenAPI links from a response whose body holds an id at `pointer` (e.g. `/job_id`) to each
    `(method, path)` that takes it as the path parameter `parameter`."""
    found: dict[str, Any] = {}
    for method, path in targets:
        after = path.split("}", 1)[-1]  # named by what follows the id: `Get`, `PostCancel`, ...
        name = method.title() + "".join(part.title() for part in after.split("/") if part)
        found[name] = {
            "operationRef": operation_ref(method, path),
            "parameters": {parameter: f"$response.body#{pointer}"},
        }
    return found


def add_models(document: dict[str, Any], models: Iterable[type[BaseModel]]) -> None:
    """Put `models` (and the models they use) into the document's components, for bodies that name
    them by reference outside FastAPI's own models (JSON Lines)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, used in schema.pop("$defs", {}).items():
            schemas.setdefault(name, used)
        schemas.setdefault(model.__name__, schema)


def drop_generated_422(document: dict[str, Any]) -> None:
    """Drop the 422 FastAPI adds by itself (with its `HTTPValidationError`, a body this API never
    sends): the operations that can answer 422 declare it with their own error body (`ErrorResponse`,
    or their family's envelope), and the others never answer it."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            response = operation.get("responses", {}).get("422", {})
            schema = response.get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("$ref") == VALIDATION_ERROR_REF:
                del operation["responses"]["422"]
    for unused in ("HTTPValidationError", "ValidationError"):
        document.get("components", {}).get("schemas", {}).pop(unused, None)


def unwrap_nullable_parameters(document: dict[str, Any]) -> None:
    """A header or query parameter is absent or a string, never JSON `null`: drop the `null` FastAPI
    allows for an optional one, so clients and fuzzers send nothing rather than the text "null"."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                options = [option for option in schema.get("anyOf", []) if option != {"type": "null"}]
                if parameter.get("in") in {"header", "query"} and len(options) == 1:
                    del schema["anyOf"]
                    schema.update(options[0])


def describe_job_create(document: dict[str, Any], prices: PriceTable | None) -> None:
    """`JobCreate` as one of its variants by provider and operation (see job_variants)."""
    schemas = document.get("components", {}).get("schemas", {})
    if "JobCreate" not in schemas:
        return
    variants, components = job_create_variants(PROVIDERS, prices)
    for name, schema in components.items():
        schemas.setdefault(name, schema)
    schemas["JobCreate"]["oneOf"] = variants


# Bodies whose `allowed_providers` lists providers: the document names the ones this deployment runs.
PROVIDER_LISTS = ("KeyCreate", "ApiKeyCreate")


UNAVAILABLE = (
    "The database is unavailable for a moment (`unavailable`): nothing was changed; send the same "
    "request again after `Retry-After` seconds."
)


def add_unavailable(document: dict[str, Any]) -> None:
    """Every operation that authenticates reads PostgreSQL, so each may answer 503 `unavailable` while
    it restarts or fails over: in the same envelope as its 401 (the family's own on compatible routes)."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if "401" not in responses or "503" in responses:
                continue
            retry_after = {"description": "Whole seconds to wait.", "schema": {"type": "integer"}}
            responses["503"] = {
                **responses["401"],
                "description": UNAVAILABLE,
                "headers": {"Retry-After": retry_after},
            }


def enumerate_providers(schemas: dict[str, Any]) -> None:
    """`allowed_providers` items as the installed providers' names (the schemas cannot know them)."""
    for name in PROVIDER_LISTS:
        field = schemas.get(name, {}).get("properties", {}).get("allowed_providers", {})
        for option in field.get("anyOf", [field]):
            if option.get("type") == "array":
                option["items"] = {"type": "string", "enum": sorted(PROVIDERS)}


def install_document(
    app: FastAPI,
    models: Iterable[type[BaseModel]] = (),
    prices: Callable[[], PriceTable | None] = lambda: None,
) -> None:
    """Build the document once, as FastAPI does, and finish it: no operation keeps the 422 FastAPI
    generates, `models` join the components, a job body is told apart by provider and operation (with
    the models `prices` offers), and free text says it takes no NUL character."""
    models = tuple(models)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            drop_generated_422(document)
            unwrap_nullable_parameters(document)
            add_models(document, models)
            describe_job_create(document, prices())
            add_unavailable(document)
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            enumerate_providers(schemas)
            forbid_nul_in_text(schemas)
            schemas.update(storable_value_schemas())
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    forbid_nul_in_text(operation.get("requestBody", {}))
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
