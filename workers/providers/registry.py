"""Which providers this installation runs: the built-in packages, named here, and those other installed
packages add through the `genrelay.providers` entry-point group, found once on first use.

A plugin's entry point names its `ProviderPlugin` subclass (or an instance), under the provider's name:

    [project.entry-points."genrelay.providers"]
    acme = "genrelay_acme:Acme"
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from importlib.metadata import EntryPoint, entry_points
from threading import Lock
from typing import Any

from workers.providers import videos
from workers.providers.base import Provider
from workers.providers.compat import CompatFamily

ENTRY_POINT_GROUP = "genrelay.providers"

# Each built-in provider is one package; its plugin class is named here, imported on first use.
BUILT_IN: Mapping[str, str] = {
    "hailuo": "workers.providers.hailuo:Hailuo",
    "kling": "workers.providers.kling:Kling",
    "midjourney": "workers.providers.midjourney:Midjourney",
    "replicate": "workers.providers.replicate:Replicate",
    "runway": "workers.providers.runway:Runway",
    "seedance": "workers.providers.seedance:Seedance",
    "suno": "workers.providers.suno:Suno",
    "sora": "workers.providers.sora:Sora",
    "veo": "workers.providers.veo:Veo",
}


class ProviderConflictError(RuntimeError):
    """Two plugins claim one provider name, or a plugin is registered under another name than its own."""


def _instance(loaded: Any, origin: str) -> Provider:
    plugin = loaded() if isinstance(loaded, type) else loaded
    for attribute in ("name", "operations", "submit", "poll", "parse_callback"):
        if not hasattr(plugin, attribute):
            raise TypeError(f"{origin} is not a genrelay provider: it has no {attribute!r}")
    provider: Provider = plugin
    return provider


def _load_reference(reference: str) -> Provider:
    module, _, attribute = reference.partition(":")
    return _instance(getattr(importlib.import_module(module), attribute), reference)


def _load_entry_point(entry_point: EntryPoint) -> Provider:
    origin = f"entry point {entry_point.name!r} ({entry_point.value}"
    origin += f", from {entry_point.dist.name})" if entry_point.dist else ")"
    provider = _instance(entry_point.load(), origin)
    if provider.name != entry_point.name:
        raise ProviderConflictError(f"{origin} registers a provider named {provider.name!r}")
    return provider


def discover(
    built_in: Mapping[str, str] = BUILT_IN, plugins: tuple[EntryPoint, ...] | None = None
) -> dict[str, Provider]:
    """Every provider by name: the built-in ones, then the installed plugins (refusing a name twice)."""
    found = {name: _load_reference(reference) for name, reference in built_in.items()}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP) if plugins is None else plugins:
        if entry_point.name in found:
            raise ProviderConflictError(
                f"two providers are named {entry_point.name!r}: {entry_point.value} "
                f"and {built_in.get(entry_point.name, 'another plugin')}; uninstall one"
            )
        found[entry_point.name] = _load_entry_point(entry_point)
    return dict(sorted(found.items()))


class ProviderRegistry(Mapping[str, Provider]):
    """The providers by name, discovered on first use (not at import, so importing stays cheap and
    side-effect free), then fixed for the life of the process."""

    def __init__(self) -> None:
        self._providers: dict[str, Provider] | None = None
        self._families: list[tuple[str | None, CompatFamily]] | None = None
        self._lock = Lock()

    def _loaded(self) -> dict[str, Provider]:
        if self._providers is None:
            with self._lock:
                if self._providers is None:
                    self._providers = discover()
        return self._providers

    def __getitem__(self, name: str) -> Provider:
        return self._loaded()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())

    def route_families(self) -> list[tuple[str | None, CompatFamily]]:
        """Every compatible route family, built once: each provider's own (with its name), then the
        shared `/v1/videos` family over the providers' declared video models (with None)."""
        if self._families is None:
            self._families = route_families(self._loaded())
        return self._families


def route_families(providers: Mapping[str, Provider]) -> list[tuple[str | None, CompatFamily]]:
    owned: list[tuple[str | None, CompatFamily]] = [
        (name, provider.compat) for name, provider in providers.items() if provider.compat is not None
    ]
    shared = videos.family({name: p.videos for name, p in providers.items() if p.videos is not None})
    return owned + ([(None, shared)] if shared is not None else [])
