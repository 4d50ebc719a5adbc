"""A webhook receiver for tests: a real HTTP server that records every request and answers from a
script (e.g. three 500s, then 200)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI, Request, Response

from tests import services


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str = ""
    answers: list[Response] = field(default_factory=list)  # consumed in order; then 200
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, *answers: Response) -> None:
        with self.lock:
            self.answers.extend(answers)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/{path:path}")
        async def receive(request: Request) -> Response:
            body = await request.body()
            with self.lock:
                self.received.append(Received(dict(request.headers), body))
                return self.answers.pop(0) if self.answers else Response("ok", status_code=200)

        return app


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    with services.serving(receiver.app()) as server:
        receiver.url = f"{server.url}/hooks"
        yield receiver
