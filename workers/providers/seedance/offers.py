"""What each Seedance model offers (providers-more.md §2.1): its operations, resolutions, clip lengths
and sound, by either of its names, and why a model cannot do a given input."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

T2V, I2V, R2V = "text2video", "image2video", "reference2video"


@dataclass(frozen=True)
class ModelOffer:
    """What one model takes: its operations, resolutions, shortest and longest clip, and sound."""

    operations: frozenset[str]
    resolutions: frozenset[str]
    durations: tuple[int, int]
    audio: bool = False


_ALL = frozenset({"480p", "720p", "1080p"})
_NO_1080 = frozenset({"480p", "720p"})
_T2V_I2V = frozenset({T2V, I2V})
_SEEDANCE_2 = ModelOffer(_T2V_I2V | {R2V}, _NO_1080, (4, 15), audio=True)
# By BytePlus id; Volcengine's (and CometAPI's) ids are the same with `doubao-` in front.
MODELS: Mapping[str, ModelOffer] = {
    "seedance-1-0-pro-250528": ModelOffer(_T2V_I2V, _ALL, (2, 12)),
    "seedance-1-0-pro-fast-251015": ModelOffer(_T2V_I2V, _ALL, (2, 12)),
    "seedance-1-0-lite-t2v-250428": ModelOffer(frozenset({T2V}), _NO_1080, (2, 12)),
    "seedance-1-0-lite-i2v-250428": ModelOffer(frozenset({I2V, R2V}), _NO_1080, (2, 12)),
    "seedance-1-5-pro-251215": ModelOffer(_T2V_I2V, _NO_1080, (4, 12), audio=True),
    "seedance-2-0-260128": _SEEDANCE_2,
    "seedance-2-0-fast-260128": _SEEDANCE_2,
}
CN_PREFIX = "doubao-"


def family(model: str) -> str:
    """A model's BytePlus id, whichever of its two names it is given by."""
    return model.lower().removeprefix(CN_PREFIX)


def model_problem(model: str, operation: str, job_input: Mapping[str, Any]) -> str | None:
    """Why `model` cannot do this input (None when it can, or when the model is not one we know: an Ark
    endpoint id `ep-…` or a newer model, which the upstream judges itself)."""
    offer = MODELS.get(family(model))
    if offer is None:
        return None
    if operation not in offer.operations:
        if operation == R2V:
            return f"reference_images: {model} takes no reference images (seedance-1-0-lite-i2v and 2.0 do)"
        return f"{model} does not do {operation}; it does {', '.join(sorted(offer.operations))}"
    resolution, duration = job_input.get("resolution"), job_input.get("duration")
    low, high = offer.durations
    checks = (
        (
            resolution is not None and resolution not in offer.resolutions,
            f"resolution: {model} offers {', '.join(sorted(offer.resolutions))}",
        ),
        (
            isinstance(duration, int) and not low <= duration <= high,
            f"duration: {model} makes clips of {low} to {high} seconds",
        ),
        (
            bool(job_input.get("generate_audio")) and not offer.audio,
            f"generate_audio: {model} makes silent video (seedance-1-5-pro and 2.0 make sound)",
        ),
    )
    return next((problem for failed, problem in checks if failed), None)


def names_of(model: str) -> tuple[str, ...]:
    """Both names of a model: its BytePlus id and its Volcengine (`doubao-`) id."""
    return (model, f"{CN_PREFIX}{model}")


def offer_groups() -> list[tuple[ModelOffer, tuple[str, ...]]]:
    """The models, both names of each, grouped by what they offer."""
    groups: dict[ModelOffer, tuple[str, ...]] = {}
    for model, offer in MODELS.items():
        groups[offer] = groups.get(offer, ()) + names_of(model)
    return list(groups.items())


def input_rules() -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """`model_problem`'s rules as JSON schema of a job input, per group of models: the resolutions,
    the clip lengths and the sound they offer."""
    rules: list[tuple[tuple[str, ...], dict[str, Any]]] = []
    for offer, names in offer_groups():
        low, high = offer.durations
        properties: dict[str, Any] = {
            "resolution": {"enum": [*sorted(offer.resolutions), None]},
            "duration": {"minimum": low, "maximum": high},
        }
        if not offer.audio:
            properties["generate_audio"] = {"not": {"const": True}}
        rules.append((names, {"properties": properties}))
    return rules
