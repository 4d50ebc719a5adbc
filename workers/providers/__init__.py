"""Upstream provider adapters, registered explicitly by name."""

from collections.abc import Mapping

from workers.providers.base import Provider
from workers.providers.kling import Kling
from workers.providers.midjourney import Midjourney
from workers.providers.runway import Runway
from workers.providers.suno import Suno
from workers.providers.veo import Veo

PROVIDERS: Mapping[str, Provider] = {
    "kling": Kling(),
    "midjourney": Midjourney(),
    "runway": Runway(),
    "suno": Suno(),
    "veo": Veo(),
}

__all__ = ["PROVIDERS", "Provider"]
