"""Replicate as a genrelay provider: `adapter` (HTTP), `wire` (pure parsing), `catalog` (the models
offered, their outputs and known versions), `schemas` (the job input and the prediction object), `routes`
and `projection` (its Replicate-compatible routes), `simulation` (how the simulator plays it) and
`prices.toml`."""

from workers.providers.replicate.adapter import Replicate

__all__ = ["Replicate"]
