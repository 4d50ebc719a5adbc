"""OpenAI Sora as a genrelay provider, for channels that still serve OpenAI's Videos API: `adapter`
(HTTP), `wire` (pure parsing), `offers` (each model's sizes and lengths), `schemas` (inputs and the
wire's models), `videos` (its models on the shared `/v1/videos` routes, remix included), `simulation`
(how the simulator plays it) and `prices.toml`."""

from workers.providers.sora.adapter import Sora

__all__ = ["Sora"]
