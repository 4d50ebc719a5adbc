"""The route serving simulated result files (`workers.providers.simulation.files`): signed, expiring,
deterministic bytes."""

from __future__ import annotations

import hmac
import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response, StreamingResponse

from workers.providers.simulation.engine import Simulator
from workers.providers.simulation.files import KINDS, file_chunks, signature


def router_factory(sim: Simulator) -> APIRouter:
    router = APIRouter()

    @router.get("/_sim/files/{task_id}/{index}.{kind}")
    def download(task_id: str, index: int, kind: str, expires: int = 0, sig: str = "") -> Response:
        if kind not in KINDS:
            return JSONResponse({"code": "NoSuchKey", "message": "no such file"}, status_code=404)
        expected = signature(sim.file_secret, task_id, index, expires)
        if not hmac.compare_digest(expected.encode(), sig.encode()):
            return _denied("signature does not match")
        if expires < time.time():
            return _denied("link expired")
        task = sim.task(task_id)
        if task is None:
            return JSONResponse({"code": "NoSuchKey", "message": "no such file"}, status_code=404)
        if task.download_error is not None:
            return _denied(task.download_error)
        return StreamingResponse(
            file_chunks(task_id, index, task.file_size, kind),
            media_type=KINDS[kind][0],
            headers={"Content-Length": str(task.file_size)},
        )

    return router


def _denied(message: str) -> Response:
    return JSONResponse({"code": "AccessDenied", "message": message}, status_code=403)
