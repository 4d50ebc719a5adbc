"""ByteDance Seedance as a genrelay provider: `adapter` (HTTP), `wire` (pure parsing), `content` (Ark's
create body and the unified input, each way), `offers` (what each model takes), `schemas` (inputs and
the wire's models), `routes` and `projection` (its Ark-compatible routes), `simulation` (how the
simulator plays it) and `prices.toml`."""

from workers.providers.seedance.adapter import Seedance

__all__ = ["Seedance"]
