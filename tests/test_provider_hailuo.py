"""MiniMax Hailuo: the adapter against the simulator over real HTTP (submit, the query's statuses, the
file-retrieve step and its expiring links, callbacks and their challenge), every `base_resp` code class,
a gateway's wrapped answers, and the input each model takes."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select

from orchestrator.db import Database
from orchestrator.errors import UnpricedModelError
from orchestrator.models import Job, JobOutput
from orchestrator.pipeline import storing, submission, tracking
from orchestrator.pricing import load_price_table
from orchestrator.settings import Settings
from orchestrator.storage import build_storage
from schemas.jobs import JobStatus
from tests import services
from tests.factories import Tenant, create_job
from workers.providers import PROVIDERS
from workers.providers.base import Channel, OutputRef, ProviderUpdate, SubmitRequest, TaskRef, UpstreamStatus
from workers.providers.errors import (
    InvalidCallbackError,
    ProviderRejectedError,
    ProviderUnavailableError,
    SubmitOutcomeUnknownError,
)
from workers.providers.hailuo import Hailuo
from workers.providers.hailuo.schemas import HailuoImage2VideoInput, HailuoText2VideoInput, model_problem
from workers.simulator import Outcome, Simulator

T2V, I2V = "text2video", "image2video"
IMAGE = "https://example.com/boat.png"
PROMPT = {"prompt": "a paper boat on a lake", "duration": 6}
# Every status MiniMax documents, in each spelling its query, callbacks and gateways use (§1.3, §1.4).
DOCUMENTED = {
    "Preparing": UpstreamStatus.PENDING,
    "Queueing": UpstreamStatus.PENDING,
    "Processing": UpstreamStatus.RUNNING,
    "processing": UpstreamStatus.RUNNING,
    "Success": UpstreamStatus.SUCCEEDED,
    "success": UpstreamStatus.SUCCEEDED,
    "Fail": UpstreamStatus.FAILED,
    "Failed": UpstreamStatus.FAILED,
    "failed": UpstreamStatus.FAILED,
}


@pytest.fixture
def channel(simulator: Simulator, simulator_url: str) -> Channel:
    return Channel("hailuo-sim", simulator_url, api_key=simulator.config.api_key)


@pytest.fixture
def raw(simulator: Simulator, simulator_url: str) -> Iterator[httpx.Client]:
    """A client speaking MiniMax's wire format directly, with the simulator's key."""
    auth = {"Authorization": f"Bearer {simulator.config.api_key}"}
    with httpx.Client(base_url=simulator_url, headers=auth, timeout=10) as client:
        yield client


class Hook:
    """A callback receiver: answers MiniMax's challenge as `answer` says (after `delay_s`), records bodies."""

    def __init__(self, answer: Callable[[str], Any] = lambda value: {"challenge": value}) -> None:
        self.answer = answer
        self.delay_s = 0.0
        self.bodies: list[dict[str, Any]] = []
        self.url = ""

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Any:
            body = await request.json()
            self.bodies.append(body)
            if "challenge" not in body:
                return {"ok": True}
            await asyncio.sleep(self.delay_s)
            return self.answer(body["challenge"])

        return app

    def reports(self) -> list[dict[str, Any]]:
        return [body for body in list(self.bodies) if "challenge" not in body]


@contextmanager
def hook(answer: Callable[[str], Any] | None = None) -> Iterator[Hook]:
    receiver = Hook(answer) if answer else Hook()
    with services.serving(receiver.app()) as server:
        receiver.url = f"{server.url}/hook"
        yield receiver


def text(**fields: Any) -> SubmitRequest:
    return SubmitRequest("job-1", T2V, "MiniMax-Hailuo-02", {**PROMPT, **fields})


def ref(task_id: str, operation: str = T2V) -> TaskRef:
    return TaskRef("job-1", operation, task_id)


def poll_until(
    http: httpx.Client, channel: Channel, task: TaskRef, done: Callable[[ProviderUpdate], bool]
) -> list[ProviderUpdate]:
    """Every update whose raw status differs from the one before, until `done` holds for one."""
    seen: list[ProviderUpdate] = []

    def finished() -> bool:
        update = Hailuo().poll(http, channel, task)
        if not seen or seen[-1].raw_status != update.raw_status:
            seen.append(update)
        return done(update)

    services.wait_until(finished, timeout=10, interval=0.01)
    return seen


def ended(update: ProviderUpdate) -> bool:
    return update.status in (UpstreamStatus.SUCCEEDED, UpstreamStatus.FAILED)


FAKE = Channel("fake", "https://upstream.test", api_key="sk-fake")


def client_answering(body: Any, status: int = 200) -> httpx.Client:
    """A client whose upstream answers every request with `body` (for shapes the simulator never sends)."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(status, content=content)))


# --- statuses and callbacks, pure -----------------------------------------------------------------


@pytest.mark.parametrize(("raw_status", "meaning"), DOCUMENTED.items())
def test_hailuo_every_status_spelling_is_read(raw_status: str, meaning: UpstreamStatus) -> None:
    body = {"task_id": "176843862716480", "status": raw_status, "base_resp": {"status_code": 0}}
    if meaning is UpstreamStatus.SUCCEEDED:
        body["file_id"] = "176844028768320"
    update = Hailuo().parse_callback(json.dumps(body).encode())
    assert (update.status, update.raw_status, update.external_id) == (meaning, raw_status, "176843862716480")
    assert Hailuo.status_map[raw_status.lower()] is meaning


def test_hailuo_success_names_the_file_to_resolve_and_the_size() -> None:
    body = {
        "task_id": "1",
        "status": "Success",
        "file_id": 176844028768320,  # a number in some answers: kept as an opaque string
        "video_width": 1920,
        "video_height": 1080,
        "base_resp": {"status_code": 0, "status_msg": "success"},
    }
    update = Hailuo().parse_callback(json.dumps(body).encode())
    assert update.outputs == (OutputRef("176844028768320", "video/mp4", label="video", resolve=True),)
    assert (update.progress, update.result) == (100, {"video_width": 1920, "video_height": 1080})
    # A success that names no file keeps the job waiting for a fuller answer.
    bare = Hailuo().parse_callback(b'{"task_id": "1", "status": "Success"}')
    assert (bare.status, bare.outputs) == (UpstreamStatus.UNKNOWN, ())


@pytest.mark.parametrize(
    ("code", "error_code"),
    [
        (1027, "moderation_blocked"),
        (1026, "moderation_blocked"),
        (1000, "upstream_failed"),
        (0, "upstream_failed"),
    ],
)
def test_hailuo_failed_task_reason_comes_from_base_resp(code: int, error_code: str) -> None:
    body = {"task_id": "1", "status": "Fail", "base_resp": {"status_code": code, "status_msg": "why"}}
    update = Hailuo().parse_callback(json.dumps(body).encode())
    assert (update.status, update.error_code, update.outputs) == (UpstreamStatus.FAILED, error_code, ())
    assert update.error_message == "why"


def test_hailuo_unknown_status_keeps_waiting_and_bad_callbacks_are_refused() -> None:
    assert Hailuo().parse_callback(b'{"task_id": "1", "status": "Archived"}').status is UpstreamStatus.UNKNOWN
    for body in (b"not json", b"[1, 2]", b'{"task_id": "1"}', b'{"challenge": "c-1"}'):
        with pytest.raises(InvalidCallbackError):
            Hailuo().parse_callback(body)


def test_hailuo_handshake_echoes_a_challenge_and_nothing_else() -> None:
    assert Hailuo().handshake(b'{"challenge": "c-1"}') == {"challenge": "c-1"}
    assert Hailuo().handshake(b'{"challenge": "c-1", "extra": true}') == {"challenge": "c-1"}
    for body in (b'{"task_id": "1", "status": "Success"}', b"not json", b'{"challenge": {"a": 1}}', b"[]"):
        assert Hailuo().handshake(body) is None


# --- business codes and transport errors ----------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error", "reason"),
    [
        *((code, ProviderUnavailableError, None) for code in (1000, 1001, 1002, 1024, 1033, 1041)),
        (1026, ProviderRejectedError, "moderation_blocked"),
        (1004, ProviderRejectedError, "upstream_auth"),
        (2049, ProviderRejectedError, "upstream_auth"),
        (2038, ProviderRejectedError, "upstream_account"),
        (1008, ProviderRejectedError, "upstream_billing"),
        (2056, ProviderRejectedError, "upstream_quota"),
        (2061, ProviderRejectedError, "upstream_plan"),
        *((code, ProviderRejectedError, "invalid_input") for code in (1039, 1042, 2013)),
        (9999, ProviderRejectedError, "upstream_rejected"),
    ],
)
def test_hailuo_business_codes_at_submit(code: int, error: type[Exception], reason: str | None) -> None:
    body = {"task_id": "", "base_resp": {"status_code": code, "status_msg": "refused"}}
    with client_answering(body) as http, pytest.raises(error) as raised:
        Hailuo().submit(http, FAKE, text())
    if reason is not None:
        assert isinstance(raised.value, ProviderRejectedError)
        assert raised.value.code == reason
    assert "sk-fake" not in str(raised.value)


GATEWAY_ERROR = {"error": {"message": "gateway says no"}}


@pytest.mark.parametrize(
    ("status", "body", "error", "reason"),
    [
        (429, GATEWAY_ERROR, ProviderUnavailableError, None),
        (503, GATEWAY_ERROR, ProviderUnavailableError, None),
        (502, GATEWAY_ERROR, SubmitOutcomeUnknownError, None),
        # A gateway's own code in a 5xx: the request left, so a task may exist whatever it says.
        (502, {"code": 500, "message": "upstream error", "data": None}, SubmitOutcomeUnknownError, None),
        # Accepted, yet no task id (or no readable body): a task may exist, and be billed.
        (200, {"base_resp": {"status_code": 0, "status_msg": "success"}}, SubmitOutcomeUnknownError, None),
        (200, b"<html>ok</html>", SubmitOutcomeUnknownError, None),
        # MiniMax's own answer speaks for itself, whatever the HTTP status.
        (
            500,
            {"task_id": "", "base_resp": {"status_code": 1024, "status_msg": "internal"}},
            ProviderUnavailableError,
            None,
        ),
        (401, GATEWAY_ERROR, ProviderRejectedError, "upstream_auth"),
        (402, GATEWAY_ERROR, ProviderRejectedError, "upstream_billing"),
        (400, GATEWAY_ERROR, ProviderRejectedError, "upstream_rejected"),
        (200, GATEWAY_ERROR, ProviderRejectedError, "upstream_rejected"),
    ],
)
def test_hailuo_http_statuses_at_submit(
    status: int, body: Any, error: type[Exception], reason: str | None
) -> None:
    with client_answering(body, status) as http, pytest.raises(error) as raised:
        Hailuo().submit(http, FAKE, text())
    if reason is not None:
        assert isinstance(raised.value, ProviderRejectedError)
        assert raised.value.code == reason


def test_hailuo_simulator_business_errors(
    simulator: Simulator, http: httpx.Client, channel: Channel, simulator_url: str
) -> None:
    wrong_key = Channel("hailuo-sim", simulator_url, api_key="sk-wrong")
    with pytest.raises(ProviderRejectedError) as unauthorized:
        Hailuo().submit(http, wrong_key, text())
    assert unauthorized.value.code == "upstream_auth"
    with pytest.raises(ProviderRejectedError) as invalid:
        Hailuo().submit(http, channel, text(prompt=""))  # MiniMax refuses it: 2013
    assert invalid.value.code == "invalid_input"
    simulator.configure(rate_limit_rate=1.0)
    with pytest.raises(ProviderUnavailableError, match="code 1002"):
        Hailuo().submit(http, channel, text())
    simulator.configure(rate_limit_rate=0.0, submit_error_rate=1.0)
    with pytest.raises(ProviderUnavailableError, match="code 1000"):
        Hailuo().submit(http, channel, text())
    stats = simulator.stats()["hailuo"]
    assert stats.creates == 0
    assert stats.rejected == {"unauthorized": 1, "invalid_params": 1, "rate_limited": 1, "unavailable": 1}


def test_hailuo_lost_answers_and_refused_connections(simulator: Simulator, channel: Channel) -> None:
    simulator.configure(read_timeout_rate=1.0, stall_s=3.0)
    with httpx.Client(timeout=0.5) as http, pytest.raises(SubmitOutcomeUnknownError):
        Hailuo().submit(http, channel, text())
    assert simulator.stats()["hailuo"].creates == 1  # created, though the answer was lost
    with services.closed_port() as port, httpx.Client(timeout=1) as http:
        closed = Channel("closed", f"http://127.0.0.1:{port}", api_key="sk")
        with pytest.raises(ProviderUnavailableError):
            Hailuo().submit(http, closed, text())
        with pytest.raises(ProviderUnavailableError):
            Hailuo().poll(http, closed, ref("1"))


def test_hailuo_model_problems_are_refused_before_anything_is_sent(
    simulator: Simulator, http: httpx.Client, channel: Channel
) -> None:
    request = SubmitRequest("job-1", T2V, "T2V-01", {**PROMPT, "resolution": "1080P"})
    with pytest.raises(ProviderRejectedError, match="resolution: T2V-01 offers 720P") as refused:
        Hailuo().submit(http, channel, request)
    assert refused.value.code == "invalid_input"
    assert simulator.stats()["hailuo"].create_attempts == 0


# --- the simulator's wire format, through the adapter ---------------------------------------------


def test_hailuo_submit_and_poll_through_every_status(
    simulator: Simulator, http: httpx.Client, channel: Channel
) -> None:
    simulator.script("hailuo", [Outcome(result="succeed", submitted_s=0.6, processing_s=0.3)])
    task_id = Hailuo().submit(http, channel, text(resolution="1080P"))
    task = simulator.task(task_id)
    assert task is not None
    assert dict(task.params) == {"model": "MiniMax-Hailuo-02", **PROMPT, "resolution": "1080P"}
    assert task.callback_url is None  # none was asked for
    updates = poll_until(http, channel, ref(task_id), ended)
    assert [u.raw_status for u in updates] == [
        "task_not_exist",
        "Preparing",
        "Queueing",
        "Processing",
        "Success",
    ]
    assert [u.status for u in updates] == [
        UpstreamStatus.UNKNOWN,
        UpstreamStatus.PENDING,
        UpstreamStatus.PENDING,
        UpstreamStatus.RUNNING,
        UpstreamStatus.SUCCEEDED,
    ]
    done = updates[-1]
    assert (done.external_id, done.progress, done.result) == (
        task_id,
        100,
        {"video_width": 1920, "video_height": 1080},
    )
    (output,) = done.outputs
    assert (output.content_type, output.label, output.resolve) == ("video/mp4", "video", True)
    link = Hailuo().resolve_output(http, channel, output)
    assert (link.resolve, link.label, link.content_type) == (False, "video", "video/mp4")
    download = http.get(link.url)
    assert (download.status_code, download.headers["content-type"]) == (200, "video/mp4")


@pytest.mark.parametrize(
    ("fate", "error_code", "code"),
    [("fail", "upstream_failed", 1000), ("moderation", "moderation_blocked", 1027)],
)
def test_hailuo_failed_tasks(
    simulator: Simulator,
    http: httpx.Client,
    channel: Channel,
    raw: httpx.Client,
    fate: str,
    error_code: str,
    code: int,
) -> None:
    simulator.configure(not_found_polls=0)
    simulator.script("hailuo", [Outcome(result=fate)])  # type: ignore[arg-type]
    task_id = Hailuo().submit(http, channel, text())
    answer = raw.get("/v1/query/video_generation", params={"task_id": task_id}).json()
    assert (answer["status"], answer["base_resp"]["status_code"]) == ("Fail", code)
    assert "file_id" not in answer
    failed = Hailuo().poll(http, channel, ref(task_id))
    assert (failed.status, failed.error_code, failed.outputs) == (UpstreamStatus.FAILED, error_code, ())
    assert failed.error_message == answer["base_resp"]["status_msg"]


def test_hailuo_unknown_task_and_file_are_refused_with_2013(
    raw: httpx.Client, http: httpx.Client, channel: Channel
) -> None:
    missing = raw.get("/v1/query/video_generation", params={"task_id": "123"})
    assert (missing.status_code, missing.json()["base_resp"]["status_code"]) == (200, 2013)
    assert Hailuo().poll(http, channel, ref("123")).raw_status == "task_not_exist"
    no_file = raw.get("/v1/files/retrieve", params={"file_id": "42"})
    assert (no_file.status_code, no_file.json()["base_resp"]["status_code"]) == (200, 2013)
    with pytest.raises(ProviderRejectedError):
        Hailuo().resolve_output(http, channel, OutputRef("42", "video/mp4", "video", resolve=True))


def test_hailuo_files_retrieve_mints_a_fresh_link_for_an_expired_one(
    simulator: Simulator, http: httpx.Client, channel: Channel, raw: httpx.Client
) -> None:
    simulator.configure(not_found_polls=0)
    (output,) = Hailuo().poll(http, channel, ref(Hailuo().submit(http, channel, text()))).outputs
    retrieved = raw.get("/v1/files/retrieve", params={"file_id": output.url}).json()
    assert isinstance(retrieved["file"]["file_id"], int)  # a number here, a string in the query
    assert str(retrieved["file"]["file_id"]) == output.url
    assert retrieved["file"]["backup_download_url"]
    simulator.configure(url_ttl_s=-1.0)
    expired = Hailuo().resolve_output(http, channel, output)
    assert http.get(expired.url).status_code == 403
    simulator.configure(url_ttl_s=3600.0)
    fresh = Hailuo().resolve_output(http, channel, output)
    assert fresh.url != expired.url
    assert http.get(fresh.url).status_code == 200


def test_hailuo_stored_output_is_resolved_when_copied(
    simulator: Simulator, db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    """The job keeps MiniMax's file id, not a link: a store retried after its link expired asks again."""
    settings = make_settings(upstream_callbacks=False)
    job_id = create_job(
        db, tenant, settings, provider="hailuo", operation=T2V, model="MiniMax-Hailuo-02", input=PROMPT
    )
    storage = build_storage(settings)
    with httpx.Client(timeout=5) as http:
        assert submission.submit(db, http, settings, job_id) is JobStatus.SUBMITTED
        services.wait_until(lambda: tracking.poll(db, http, settings, [job_id]), timeout=10)
        with db.transaction() as session:
            job = session.get(Job, job_id)
            assert job is not None
            [pending] = job.pending_outputs or []
            assert (pending["resolve"], pending["label"]) == (True, "video")
            assert pending["url"].isdigit()  # MiniMax's file id, not a link
        simulator.configure(url_ttl_s=-1.0)  # every link it hands out is already dead
        assert storing.store(db, http, storage, settings, job_id) is JobStatus.STORING
        simulator.configure(url_ttl_s=3600.0)
        assert storing.store(db, http, storage, settings, job_id) is JobStatus.SUCCEEDED
    with db.transaction() as session:
        (stored,) = session.execute(select(JobOutput).where(JobOutput.job_id == job_id)).scalars()
        assert (stored.label, stored.content_type, stored.size_bytes) == ("video", "video/mp4", 65536)


# --- callbacks and the challenge ------------------------------------------------------------------


def test_hailuo_callbacks_follow_an_echoed_challenge(
    simulator: Simulator, http: httpx.Client, channel: Channel
) -> None:
    spellings: set[str] = set()
    with hook() as receiver:
        for n in range(8):  # a task's spelling follows its id: a few tasks show both
            receiver.bodies.clear()
            task_id = Hailuo().submit(
                http, channel, SubmitRequest(f"job-{n}", T2V, "MiniMax-Hailuo-02", PROMPT, receiver.url)
            )
            task = simulator.task(task_id)
            assert task is not None
            assert task.callback_url == receiver.url
            assert "challenge" in receiver.bodies[0]  # verified before the create answered
            reports = services.wait_until(
                lambda: len(receiver.reports()) == 3 and receiver.reports(), timeout=10
            )
            updates = [Hailuo().parse_callback(json.dumps(body).encode()) for body in reports]
            assert [u.status for u in updates] == [
                UpstreamStatus.PENDING,
                UpstreamStatus.RUNNING,
                UpstreamStatus.SUCCEEDED,
            ]
            assert {u.external_id for u in updates} == {task_id}
            assert reports[1]["status"] == "processing"
            assert reports[2]["file_id"]
            spellings.add(reports[2]["status"])
            if spellings == {"Success", "success"}:
                break
    assert spellings == {"Success", "success"}
    assert simulator.stats()["hailuo"].callbacks_failed == 0


@pytest.mark.parametrize("how", ["wrong", "late", "unreachable"])
def test_hailuo_simulator_sends_nothing_to_an_address_that_fails_the_challenge(
    simulator: Simulator, http: httpx.Client, channel: Channel, how: str
) -> None:
    with hook(
        lambda value: {"challenge": value + "-not"} if how == "wrong" else {"challenge": value}
    ) as receiver:
        receiver.delay_s = 3.5 if how == "late" else 0.0
        url = receiver.url if how != "unreachable" else receiver.url.replace("/hook", "/elsewhere")
        simulator.configure(not_found_polls=0)
        task_id = Hailuo().submit(
            http, channel, SubmitRequest("job-1", T2V, "MiniMax-Hailuo-02", PROMPT, url)
        )
        task = simulator.task(task_id)
        assert task is not None
        assert task.callback_url is None  # the task runs, unannounced
        assert simulator.callbacks.next_delay() is None  # and nothing is pending for it
        assert Hailuo().poll(http, channel, ref(task_id)).status is UpstreamStatus.SUCCEEDED
        stats = simulator.stats()["hailuo"]
        assert (stats.callbacks_sent, stats.callbacks_failed) == (0, 1)
        assert receiver.reports() == []


def test_hailuo_challenge_is_answered_through_genrelays_callback_route(
    api: TestClient, db: Database, tenant: Tenant
) -> None:
    body = {"provider": "hailuo", "operation": T2V, "model": "MiniMax-Hailuo-02", "input": PROMPT}
    created = api.post("/v1/jobs", json=body, headers=tenant.headers)
    assert created.status_code == 202, created.text
    with db.transaction() as session:
        token = session.execute(select(Job.callback_token)).scalar_one()
    echoed = api.post(f"/callbacks/hailuo/{token}", json={"challenge": "c-42"})
    assert (echoed.status_code, echoed.json()) == (200, {"challenge": "c-42"})
    for stranger in (f"/callbacks/hailuo/{uuid.uuid4().hex}", f"/callbacks/kling/{token}"):
        refused = api.post(stranger, json={"challenge": "c-42"})
        assert refused.status_code in {400, 404}
        assert "c-42" not in refused.text
    assert (
        api.get(f"/v1/jobs/{created.json()['job_id']}", headers=tenant.headers).json()["status"] == "queued"
    )


# --- a gateway's wrapped answers ------------------------------------------------------------------


def test_hailuo_reads_a_gateways_wrapped_answers() -> None:
    with client_answering({"code": 0, "message": "ok", "data": {"task_id": "106916112212032"}}) as http:
        assert Hailuo().submit(http, FAKE, text()) == "106916112212032"
    with (
        client_answering({"code": 1004, "message": "invalid key", "data": None}) as http,
        pytest.raises(ProviderRejectedError) as refused,
    ):
        Hailuo().submit(http, FAKE, text())
    assert refused.value.code == "upstream_auth"
    wrapped = {
        "code": "success",
        "message": "",
        "data": {
            "task_id": "106916112212032",
            "status": "SUCCESS",
            "fail_reason": "",
            "data": {"file": {"file_id": 313992866418884, "download_url": "https://cdn.test/output.mp4"}},
        },
    }
    with client_answering(wrapped) as http:
        done = Hailuo().poll(http, FAKE, ref("106916112212032"))
    assert (done.status, done.outputs) == (
        UpstreamStatus.SUCCEEDED,
        (OutputRef("313992866418884", "video/mp4", label="video", resolve=True),),
    )
    wrapped["data"] = {
        "task_id": "1",
        "status": "SUCCESS",
        "data": {"file": {"download_url": "https://cdn.test/v.mp4"}},
    }
    with client_answering(wrapped) as http:
        linked = Hailuo().poll(http, FAKE, ref("1"))
    assert linked.outputs == (OutputRef("https://cdn.test/v.mp4", "video/mp4", label="video"),)
    failing = {"code": "success", "data": {"task_id": "1", "status": "FAILURE", "fail_reason": "sensitive"}}
    with client_answering(failing) as http:
        failed = Hailuo().poll(http, FAKE, ref("1"))
    assert (failed.status, failed.error_message) == (UpstreamStatus.FAILED, "sensitive")
    retrieved = {
        "code": 0,
        "data": {"file": {"backup_download_url": "https://cdn.test/b.mp4"}, "base_resp": {"status_code": 0}},
    }
    with client_answering(retrieved) as http:
        assert (
            Hailuo().resolve_output(http, FAKE, OutputRef("9", "video/mp4", "video", resolve=True)).url
            == "https://cdn.test/b.mp4"
        )
    with client_answering(b"<html>bad gateway</html>") as http, pytest.raises(ProviderUnavailableError):
        Hailuo().poll(http, FAKE, ref("1"))


# --- inputs and prices ----------------------------------------------------------------------------


def test_hailuo_inputs() -> None:
    assert HailuoText2VideoInput.model_validate({"prompt": "x", "duration": "10"}).duration == 10
    for bad in (
        {"prompt": ""},
        {"prompt": "x" * 2001},
        {"prompt": "x", "duration": 5},
        {"prompt": "x", "resolution": "512P"},
        {"prompt": "x", "duration": 10, "resolution": "1080P"},
        {"prompt": "x", "model": "T2V-01"},
    ):
        with pytest.raises(ValidationError):
            HailuoText2VideoInput.model_validate(bad)
    assert (
        HailuoImage2VideoInput.model_validate({"first_frame_image": IMAGE, "resolution": "512P"}).prompt
        is None
    )
    assert HailuoImage2VideoInput.model_validate({"first_frame_image": "data:image/png;base64,AAAA"})
    for bad in (
        {},
        {"first_frame_image": "boat.png"},
        {"first_frame_image": IMAGE, "last_frame_image": "ftp://x"},
    ):
        with pytest.raises(ValidationError):
            HailuoImage2VideoInput.model_validate(bad)


@pytest.mark.parametrize(
    ("model", "operation", "fields", "problem"),
    [
        ("MiniMax-Hailuo-02", I2V, {"resolution": "512P", "duration": 10, "last_frame_image": IMAGE}, None),
        ("minimax-hailuo-02", T2V, {"fast_pretreatment": True}, None),  # as gateways spell it
        ("MiniMax-Hailuo-02", T2V, {"resolution": "512P"}, "resolution"),
        ("MiniMax-Hailuo-2.3", I2V, {"last_frame_image": IMAGE}, "last_frame_image"),
        ("MiniMax-Hailuo-2.3", T2V, {"fast_pretreatment": True}, "fast_pretreatment"),
        ("MiniMax-Hailuo-2.3-Fast", T2V, {}, "does not do text2video"),
        ("T2V-01", T2V, {"duration": 10}, "duration"),
        ("I2V-01-live", I2V, {"resolution": "768P"}, "resolution"),
        ("I2V-01", T2V, {}, "does not do text2video"),
        ("some-new-model", T2V, {"resolution": "4K"}, None),  # the upstream judges its own catalogue
    ],
)
def test_hailuo_model_offers(model: str, operation: str, fields: dict[str, Any], problem: str | None) -> None:
    found = model_problem(model, operation, fields)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_hailuo_prices_refuse_a_duration_a_model_lacks(make_settings: Callable[..., Settings]) -> None:
    prices = load_price_table(make_settings().prices_path)
    assert prices.list_price("hailuo", T2V, "MiniMax-Hailuo-02", {"duration": 6}) == 280_000
    assert (
        prices.list_price("hailuo", T2V, "MiniMax-Hailuo-02", {"duration": 6, "resolution": "1080P"})
        == 490_000
    )
    assert (
        prices.list_price("hailuo", T2V, "MiniMax-Hailuo-2.3", {"duration": 10, "resolution": "768P"})
        == 560_000
    )
    assert (
        prices.list_price("hailuo", I2V, "MiniMax-Hailuo-02", {"duration": 10, "resolution": "512P"})
        == 150_000
    )
    assert prices.list_price("hailuo", I2V, "MiniMax-Hailuo-2.3-Fast", {"duration": 6}) == 190_000
    with pytest.raises(UnpricedModelError, match="with these options"):
        prices.list_price("hailuo", T2V, "T2V-01", {"duration": 10})
    assert PROVIDERS["hailuo"].finds_by_job_id is False
