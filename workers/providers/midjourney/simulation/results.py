"""What a finished simulated Midjourney task shows: its buttons (a grid's, a single image's, a
describe's), its described prompts, its failure reasons, and the prompt words the proxy bans."""

from __future__ import annotations

import uuid
from typing import Any

# The proxy's banned-word list refuses a prompt at submit (code 24, nothing created); a scripted
# "moderation" outcome is Midjourney's own filter instead: the task is created and ends in FAILURE.
BANNED_WORDS = frozenset({"nsfw", "gore", "bloodbath"})
ACTION_NAMES = {
    "upsample": "UPSCALE",
    "upscale": "UPSCALE",
    "animate": "VIDEO",
    "video_upscale": "UPSCALE",
    "other": "ACTION",
}
RESULT_SHAPES = {
    "describe": "text",
    "upsample": "single",
    "upscale": "single",
    "animate": "video",
    "video": "video",
    "video_upscale": "one_video",
}
FAIL_REASONS = {
    "fail": "任务超时",  # the proxy's own timeout, in its own words
    "moderation": "[Banned prompt detected] Sorry! Our AI moderator thinks this prompt is probably "
    "against our community standards.",
}
DESCRIBED = (
    "a paper boat drifting on a still lake, soft morning light",
    "watercolor sketch of a small folded boat, muted blues",
    "minimalist origami vessel on glassy water, studio photograph",
    "a lone paper boat at dawn, cinematic mist, shallow depth of field",
)
SINGLE_BUTTONS = (
    ("MJ::JOB::upsample_v6_2x_subtle::1::{h}::SOLO", "Upscale (Subtle)"),
    ("MJ::JOB::upsample_v6_2x_creative::1::{h}::SOLO", "Upscale (Creative)"),
    ("MJ::JOB::high_variation::1::{h}::SOLO", "Vary (Strong)"),
    ("MJ::JOB::low_variation::1::{h}::SOLO", "Vary (Subtle)"),
    ("MJ::Inpaint::1::{h}::SOLO", "Vary (Region)"),
    ("MJ::Outpaint::50::1::{h}::SOLO", "Zoom Out 2x"),
    ("MJ::Outpaint::75::1::{h}::SOLO", "Zoom Out 1.5x"),
    ("MJ::CustomZoom::{h}", "Custom Zoom"),
    ("MJ::JOB::pan_left::1::{h}::SOLO", "⬅️"),
    ("MJ::JOB::pan_right::1::{h}::SOLO", "➡️"),
    ("MJ::JOB::pan_up::1::{h}::SOLO", "⬆️"),
    ("MJ::JOB::pan_down::1::{h}::SOLO", "⬇️"),
    ("MJ::JOB::animate_high::1::{h}::SOLO", "Animate (High motion)"),
    ("MJ::JOB::animate_low::1::{h}::SOLO", "Animate (Low motion)"),
)


def banned_word(prompt: str) -> str | None:
    return next((word for word in prompt.lower().split() if word.strip(",.!?") in BANNED_WORDS), None)


def _button(custom_id: str, label: str, emoji: str = "") -> dict[str, Any]:
    return {"customId": custom_id, "emoji": emoji, "label": label, "type": 2, "style": 2}


def buttons(shape: str, task_id: str) -> list[dict[str, Any]]:
    """The buttons a finished task offers; each customId embeds a hash of the task."""
    h = str(uuid.uuid5(uuid.NAMESPACE_URL, f"midjourney/{task_id}"))
    if shape == "grid":
        upsample = [_button(f"MJ::JOB::upsample::{n}::{h}", f"U{n}") for n in range(1, 5)]
        variation = [_button(f"MJ::JOB::variation::{n}::{h}", f"V{n}") for n in range(1, 5)]
        return [*upsample, _button(f"MJ::JOB::reroll::0::{h}::SOLO", "", "🔄"), *variation]
    if shape == "single":
        return [_button(custom_id.format(h=h), label) for custom_id, label in SINGLE_BUTTONS]
    if shape == "video":  # one HD upscale per video [P: midjourney-proxy forks' VIDEO tasks]
        return [_button(f"MJ::JOB::video_virtual_upscale::{n}::{h}", f"U{n}") for n in range(1, 5)]
    if shape == "one_video":  # an upscaled video extends [P]
        return [
            _button(f"MJ::JOB::animate_{motion}_extend::1::{h}", f"Extend ({motion.title()} motion)", "🎞️")
            for motion in ("high", "low")
        ]
    if shape == "text":
        return [
            *(_button(f"MJ::Job::PicReader::{n}", str(n)) for n in range(1, 5)),
            _button("MJ::Picread::Retry", "", "🔄"),
        ]
    return []
