"""The provider registry and what is built from it: discovery (built in and entry points), the
declarations the core reads (deadlines, price files), and `genrelay providers`."""

from __future__ import annotations

import json
import re
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.pricing import load_price_table
from orchestrator.settings import PollPolicy, Settings
from workers.providers import PROVIDERS
from workers.providers.base import PollHint, ProviderPlugin
from workers.providers.registry import ENTRY_POINT_GROUP, ProviderConflictError, discover

README = (Path(__file__).parent.parent / "README.md").read_text()
BUILT_IN = {"hailuo", "kling", "midjourney", "replicate", "runway", "seedance", "sora", "suno", "veo"}


class Acme(ProviderPlugin):
    """A provider a third-party package could ship (no HTTP needed to be registered)."""

    name = "acme"
    title = "Acme"
    operations: Any = {}
    status_map: Any = {}
    deadline_s = 42.0
    poll_hint = PollHint(initial_s=7.0, factor=2.0, max_s=70.0)


def plugin(name: str, value: str = f"{__name__}:Acme") -> EntryPoint:
    return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


def test_registry_holds_the_built_in_providers_by_name() -> None:
    assert set(PROVIDERS) >= BUILT_IN
    assert all(PROVIDERS[name].name == name for name in PROVIDERS)


def test_registry_adds_an_entry_point_provider() -> None:
    found = discover(plugins=(plugin("acme"),))
    assert set(found) == BUILT_IN | {"acme"}
    assert isinstance(found["acme"], Acme)


def test_registry_refuses_a_second_provider_of_one_name() -> None:
    with pytest.raises(ProviderConflictError, match="two providers are named 'kling'"):
        discover(plugins=(plugin("kling"),))
    with pytest.raises(ProviderConflictError, match="two providers are named 'acme'"):
        discover(plugins=(plugin("acme"), plugin("acme")))


def test_registry_refuses_a_plugin_registered_under_another_name() -> None:
    with pytest.raises(ProviderConflictError, match="registers a provider named 'acme'"):
        discover(plugins=(plugin("zeta"),))


def test_registry_refuses_what_is_not_a_provider() -> None:
    with pytest.raises(TypeError, match="is not a genrelay provider"):
        discover(plugins=(plugin("path", "pathlib:Path"),))


def test_settings_use_a_providers_own_defaults_unless_the_operator_overrides_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(PROVIDERS, "_providers", discover(plugins=(plugin("acme"),)))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.deadline_for("midjourney", "midjourney-v7") == 1200.0
    assert settings.deadline_for("acme", "any") == 42.0
    assert settings.poll_policy("acme") == PollPolicy(initial_s=7.0, factor=2.0, max_s=70.0)
    assert settings.poll_policy("kling") == PollPolicy()  # declares none: the operator's default
    overridden = Settings(  # type: ignore[call-arg]
        _env_file=None,
        deadline_s={"default": 3600.0, "acme": 60.0, "midjourney/niji-6": 300.0},
        poll={"default": PollPolicy(), "acme": PollPolicy(initial_s=1.0)},
    )
    assert overridden.deadline_for("acme", "any") == 60.0
    assert overridden.deadline_for("midjourney", "niji-6") == 300.0
    assert overridden.deadline_for("midjourney", "midjourney-v7") == 1200.0
    assert overridden.poll_policy("acme").initial_s == 1.0


def test_price_files_are_the_providers_own_unless_the_operator_replaces_them(tmp_path: Path) -> None:
    own = load_price_table()
    assert {provider for provider, _, _ in own.keys()} == BUILT_IN  # noqa: SIM118 - PriceTable.keys()
    for name in BUILT_IN:
        price_file = PROVIDERS[name].price_file()
        assert price_file is not None
        assert price_file.parent.name == name
    replaced = tmp_path / "kling.toml"
    replaced.write_text(
        '[[price]]\nprovider = "kling"\noperation = "text2video"\nmodel = "kling-v1"\ncredits = "9"\n'
    )
    table = load_price_table(replaced)
    assert table.models("kling", "text2video") == ["kling-v1"]  # the operator's rules alone for kling
    assert table.list_price("kling", "text2video", "kling-v1", {}) == 9_000_000
    assert table.models("suno", "music") == own.models("suno", "music")  # the rest keep their own


def test_providers_command_lists_every_provider_operation_and_model() -> None:
    result = CliRunner().invoke(main, ["providers", "--json"])
    assert result.exit_code == 0, result.output
    described = json.loads(result.output)["providers"]
    assert set(described) == set(PROVIDERS)
    prices = load_price_table()
    for name, provider in PROVIDERS.items():
        operations = described[name]["operations"]
        assert set(operations) == set(provider.operations)
        for operation, offered in operations.items():
            assert offered["models"] == prices.models(name, operation)
            assert offered["models"], f"{name} {operation} offers no model"
    assert described["kling"]["operations"]["text2video"]["prices"]["kling-v1-6"] == {
        "from": "0.2",
        "to": "0.7",
        "per": None,
    }


def test_readme_provider_table_is_what_the_command_prints() -> None:
    result = CliRunner().invoke(main, ["providers", "--markdown"])
    assert result.exit_code == 0, result.output
    found = re.search(r"<!-- providers:begin -->\n(.*?)<!-- providers:end -->", README, re.DOTALL)
    assert found is not None, "README has no generated provider table"
    assert found[1] == result.output, (
        "README's provider table is stale: paste `genrelay providers --markdown`"
    )
