"""What each Sora model offers (§3.1): its snapshots, its sizes (1080p and the tall 1024p only on
sora-2-pro [I: the guide and OpenAI's price list]) and the clip lengths every model takes, as strings."""

from __future__ import annotations

SORA_2, SORA_2_PRO = "sora-2", "sora-2-pro"
# Each model id a channel may serve, and the model it is a snapshot of (its sizes and its price).
MODELS = {
    SORA_2: SORA_2,
    "sora-2-2025-10-06": SORA_2,
    "sora-2-2025-12-08": SORA_2,
    SORA_2_PRO: SORA_2_PRO,
    "sora-2-pro-2025-10-06": SORA_2_PRO,
}
SIZES_720P = ("720x1280", "1280x720")
SIZES_HIGH = ("1024x1792", "1792x1024", "1080x1920", "1920x1080")
SIZES = {SORA_2: SIZES_720P, SORA_2_PRO: SIZES_720P + SIZES_HIGH}
ALL_SIZES = SIZES_720P + SIZES_HIGH
# "4", "8", "12" in the SDK's type; 16 and 20 in the guide [V guide].
SECONDS = ("4", "8", "12", "16", "20")
DEFAULT_SECONDS, DEFAULT_SIZE = "4", "720x1280"


def base_model(model: str) -> str | None:
    """The model a snapshot belongs to (None: not a Sora model)."""
    return MODELS.get(model)


def size_problem(model: str, size: str) -> str | None:
    """Why `model` cannot make a clip of `size`, or None (an unknown model is the price table's to refuse)."""
    base = base_model(model)
    if base is None or size in SIZES[base]:
        return None
    return f"size: {model} makes {' or '.join(SIZES[base])}; {size} needs sora-2-pro"
