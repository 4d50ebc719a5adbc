"""The API document (OpenAPI 3.1) as the repository publishes it in `openapi.json`, for generated clients
and fuzzers: rendered the same wherever it runs, whatever the settings."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.api.app import create_app
from orchestrator.settings import Settings


def render() -> str:
    """The document as published: two-space JSON, the operations in the order the API mounts them."""
    document = create_app(Settings(environment="test")).openapi()
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def is_current(path: Path) -> bool:
    return path.is_file() and path.read_text(encoding="utf-8") == render()
