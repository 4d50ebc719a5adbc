"""Kling's operations and the input model of each: what the plugin offers and what its simulated
upstream reads a create body back into, one table for both."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel

from workers.providers.kling.schemas import (
    KlingImage2VideoInput,
    KlingImageInput,
    KlingText2VideoInput,
    KlingVirtualTryOnInput,
)
from workers.providers.kling.schemas_audio import KlingTextToAudioInput, KlingVideoToAudioInput
from workers.providers.kling.schemas_video import (
    KlingAvatarInput,
    KlingEffectsInput,
    KlingLipSyncInput,
    KlingMultiImage2VideoInput,
    KlingVideoExtendInput,
)

INPUTS: Mapping[str, type[BaseModel]] = {
    "text2video": KlingText2VideoInput,
    "image2video": KlingImage2VideoInput,
    "image_generation": KlingImageInput,
    "multi_image2video": KlingMultiImage2VideoInput,
    "video_extend": KlingVideoExtendInput,
    "lip_sync": KlingLipSyncInput,
    "video_effects": KlingEffectsInput,
    "avatar": KlingAvatarInput,
    "text_to_audio": KlingTextToAudioInput,
    "video_to_audio": KlingVideoToAudioInput,
    "virtual_try_on": KlingVirtualTryOnInput,
}
