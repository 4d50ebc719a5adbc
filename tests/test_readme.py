"""The README documents what the code offers: every setting (with its default, as `genrelay settings`
prints it) and every `genrelay` command."""

from __future__ import annotations

from pathlib import Path

from orchestrator.cli import main
from orchestrator.settings import describe

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_readme_lists_every_setting_with_its_default() -> None:
    for env, default, _ in describe():
        row = next((line for line in README.splitlines() if line.startswith(f"| `{env}` |")), None)
        assert row is not None, f"README does not document {env}"
        assert (f"`{default}`" if default else "unset") in row, f"README shows a stale default for {env}"


def test_readme_names_every_command() -> None:
    for name in main.commands:  # type: ignore[attr-defined]
        assert f"genrelay {name}" in README or f"`{name}`" in README, f"README misses genrelay {name}"
