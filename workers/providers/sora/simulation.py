"""Sora as the simulator plays it (OpenAI's Videos API, §3 and §7): JSON or multipart creates, the video
object in OpenAI's four statuses with `openai-poll-after-ms`, `/content` variants only once completed,
DELETE, remix, extensions and edits; `SimConfig.retired_models` makes models fail for good, as after
OpenAI's shutdown. It shares `/v1/videos` with Veo's CometAPI face: it claims `sora-*` models and
OpenAI's sizes on a create, and its own `video_` ids after that."""

from __future__ import annotations

from workers.providers.simulation.engine import Simulator
from workers.providers.simulation.http import SimRequest, SimRoute, Simulation
from workers.providers.simulation.timeline import Dwell
from workers.providers.sora.simulation_routes import SoraRoutes
from workers.providers.sora.simulation_video import ID_PREFIX, OPENAI_SIZE, create_fields

# Minutes per clip (§3.6); sora-2-pro "takes longer", which one range at speed 1 is close enough to.
DWELL = Dwell(submitted=(5.0, 30.0), processing=(60.0, 240.0))


def claims_create(request: SimRequest) -> bool:
    """A create for Sora: a `sora-*` model, or an OpenAI size (Veo's CometAPI face takes `16x9`)."""
    fields = create_fields(request)
    model, size = str(fields.get("model") or ""), str(fields.get("size") or "")
    return model.lower().startswith("sora") or bool(OPENAI_SIZE.match(size))


def claims_video(request: SimRequest) -> bool:
    return request.path_params.get("video_id", "").startswith(ID_PREFIX)


def routes(sim: Simulator) -> list[SimRoute]:
    handlers = SoraRoutes(sim)
    path = "/v1/videos/{video_id}"
    return [
        SimRoute("POST", "/v1/videos", handlers.create, claims_create),
        SimRoute("POST", "/v1/videos/extensions", handlers.extend),
        SimRoute("POST", "/v1/videos/edits", handlers.edit),
        SimRoute("GET", path, handlers.query, claims_video),
        SimRoute("DELETE", path, handlers.delete, claims_video),
        SimRoute("GET", f"{path}/content", handlers.content, claims_video),
        SimRoute("POST", f"{path}/remix", handlers.remix, claims_video),
    ]


SIMULATION = Simulation(dwell=DWELL, routes=routes)
