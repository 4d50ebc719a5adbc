"""The API process's writer of new jobs: creates from concurrent requests are committed together, a
batch per transaction (each account locked once, one commit), and then their submits are published,
a message per provider. A request waits for its own batch only; at low load a batch is one create.

Why: every create takes its account's row lock until it commits, so one-transaction-per-request
lets a busy tenant's creates queue one commit at a time, and every commit is a WAL flush. Batching
turns N flushes and N lock handoffs into one.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from orchestrator import messaging
from orchestrator.db import Database
from orchestrator.settings import Settings
from orchestrator.tenants import creating

log = logging.getLogger(__name__)
MAX_BATCH = 256


@dataclass(frozen=True)
class _Request:
    prepared: creating.PreparedJob
    future: Future[creating.Outcome] = field(default_factory=Future)


class CreateWriter:
    """One thread that writes queued creates, as many per transaction as have queued up."""

    def __init__(self, db: Database, dispatcher: messaging.Dispatcher, settings: Settings) -> None:
        self._db, self._dispatcher, self._settings = db, dispatcher, settings
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="genrelay-create-writer", daemon=True)
        self._closed = False
        self._thread.start()

    def create(self, prepared: creating.PreparedJob) -> creating.Outcome:
        """Write the job (with the others queued meanwhile) and return its outcome once committed."""
        return self.submit(prepared).result()

    def submit(self, prepared: creating.PreparedJob) -> Future[creating.Outcome]:
        request = _Request(prepared)
        if self._closed:
            request.future.set_exception(RuntimeError("the API is shutting down"))
        else:
            self._queue.put(request)
        return request.future

    def close(self) -> None:
        """Write what is queued, then stop."""
        self._closed = True
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = [first], False
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            try:
                self._write(batch)
            except Exception as exc:  # the thread must outlive any batch; its requests get the error
                log.exception("a batch of new jobs failed")
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(exc)
            if stop:
                return

    def _write(self, batch: Sequence[_Request]) -> None:
        try:
            with self._db.transaction() as session:
                outcomes = creating.write(session, [r.prepared for r in batch], self._settings)
        except Exception as exc:
            if len(batch) == 1:
                log.exception("writing a new job failed")
                batch[0].future.set_exception(exc)
                return
            for request in batch:  # each alone: only the culprit fails
                self._write([request])
            return
        self._publish(outcomes)  # before answering: an accepted job's submit is already on its way
        for request, outcome in zip(batch, outcomes, strict=True):
            request.future.set_result(outcome)

    def _publish(self, outcomes: Sequence[creating.Outcome]) -> None:
        self._dispatcher.send_submits(
            (outcome.job.provider, str(outcome.job.job_id))
            for outcome in outcomes
            if isinstance(outcome, creating.Created)
        )
