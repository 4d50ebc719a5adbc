"""The Replicate models genrelay offers (providers-more.md §4): each official model by `owner/name`, the
shape of its output, and the version ids genrelay knows, so a versioned prediction names a model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Output(StrEnum):
    """What a model's `output` is once it has succeeded."""

    FILE = "file"  # one URL string
    FILES = "files"  # a list of URLs
    ITERATOR = "iterator"  # a list that grows while it runs (`x-cog-array-type: iterator`), of text


@dataclass(frozen=True)
class Offer:
    """One model: its output's shape, the file kind the simulator makes, and the version it runs when it
    is no official model (then it is created by `POST /v1/predictions {version}`)."""

    output: Output
    kind: str = "png"
    version: str | None = None


SDXL_VERSION = "39ed52f2a78e934b3ba6e2a89f5b1c712de7dfea535525255b1aa35c5565e08b"
MODELS: Mapping[str, Offer] = {
    "black-forest-labs/flux-schnell": Offer(Output.FILES),
    "black-forest-labs/flux-dev": Offer(Output.FILES),
    "black-forest-labs/flux-1.1-pro": Offer(Output.FILE),
    "black-forest-labs/flux-pro": Offer(Output.FILE),
    # SDXL is a community model: it runs by version, never through the official-model route.
    "stability-ai/sdxl": Offer(Output.FILES, "png", version=SDXL_VERSION),
    "minimax/video-01": Offer(Output.FILE, "mp4"),
    "wan-video/wan-2.1-t2v-480p": Offer(Output.FILE, "mp4"),
    "meta/meta-llama-3-8b-instruct": Offer(Output.ITERATOR, "text"),
}
# The version ids a `POST /v1/predictions {version}` may name, and the model each is a version of.
VERSIONS: Mapping[str, str] = {SDXL_VERSION: "stability-ai/sdxl"}
VIDEO_MODELS = frozenset(name for name, offer in MODELS.items() if offer.kind == "mp4")


def model_of_version(version: str) -> str | None:
    """The model a version id (alone, or as `owner/name:version`) is a version of, if we know it."""
    model, _, version_id = version.rpartition(":")
    known = VERSIONS.get(version_id.lower())
    return known if known is not None and model in ("", known) else None
