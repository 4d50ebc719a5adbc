"""Upstream provider adapters, registered explicitly by name."""

from collections.abc import Mapping

from workers.providers.base import Provider
from workers.providers.kling import Kling

PROVIDERS: Mapping[str, Provider] = {
    "kling": Kling(),
}

__all__ = ["PROVIDERS", "Provider"]
