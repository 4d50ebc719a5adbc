"""The OpenAI-shaped `/v1/videos` routes, shared by the providers that declare video models for them."""

from workers.providers.videos.family import family
from workers.providers.videos.shape import VideoModels, VideoRequest, aspect_of, unified_job

__all__ = ["VideoModels", "VideoRequest", "aspect_of", "family", "unified_job"]
