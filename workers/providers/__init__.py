"""Upstream providers: one package each (adapter, wire parsing, schemas, prices, defaults), built on
`base.ProviderPlugin` and found through the registry, built in or installed as plugins."""

from workers.providers.base import Provider, ProviderPlugin
from workers.providers.registry import ProviderRegistry

PROVIDERS = ProviderRegistry()

__all__ = ["PROVIDERS", "Provider", "ProviderPlugin"]
