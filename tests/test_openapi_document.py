"""The published API document: `openapi.json` at the repository's root is the API's current document, and
`genrelay openapi --check` tells a stale copy from a current one."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from orchestrator.api import published
from orchestrator.cli import main

PUBLISHED = Path(__file__).resolve().parent.parent / "openapi.json"


def test_published_document_is_the_apis_current_one() -> None:
    assert PUBLISHED.read_text(encoding="utf-8") == published.render(), "run `make openapi` and commit it"


def test_published_document_covers_every_route_family() -> None:
    paths = json.loads(PUBLISHED.read_text(encoding="utf-8"))["paths"]
    for path in (
        "/v1/jobs",
        "/v1/batches",
        "/admin/v1/accounts",
        "/kling/v1/videos/text2video",
        "/mj/submit/imagine",
    ):
        assert path in paths


def test_check_refuses_a_stale_copy_and_passes_a_fresh_one(tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "openapi.json"
    target.write_text('{"openapi": "3.1.0"}\n', encoding="utf-8")
    stale = runner.invoke(main, ["openapi", "--check", "--output", str(target)])
    assert stale.exit_code == 1
    assert "not the API's current document" in stale.output
    assert runner.invoke(main, ["openapi", "--output", str(target)]).exit_code == 0
    assert runner.invoke(main, ["openapi", "--check", "--output", str(target)]).exit_code == 0
    assert target.read_text(encoding="utf-8") == PUBLISHED.read_text(encoding="utf-8")
