"""How the simulated Suno answers: the `{code, message, data}` envelope, and CometAPI's gateway refusing
a key in OpenAI's error shape before any Suno envelope."""

from __future__ import annotations

import uuid
from typing import Any

from workers.providers.simulation.http import SimResponse, answer


def ok(data: Any) -> SimResponse:
    return answer({"code": "success", "message": "", "data": data})


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> SimResponse:
    return answer({"code": code, "message": message, "data": None}, status, headers)


def unauthorized() -> SimResponse:
    body = {"message": f"Invalid token (request id: {uuid.uuid4()})", "type": "comet_api_error", "code": ""}
    return answer({"error": {**body, "param": ""}}, 401)
