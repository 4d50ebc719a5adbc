"""The upstream simulator's Kling face, driven over real HTTP (uvicorn in a thread)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.services import serving, wait_until
from workers.providers.base import Channel, ProviderUpdate, SubmitRequest, TaskRef, UpstreamStatus
from workers.providers.errors import ProviderUnavailableError, SubmitOutcomeUnknownError
from workers.providers.kling.adapter import Kling, auth_headers
from workers.providers.simulation.timeline import NewTask, max_overlap
from workers.simulator import Outcome, Refusal, SimConfig, Simulator, SubmitFault, create_app

API_KEY = "sk-test-kling"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
T2V = "/kling/v1/videos/text2video"
TERMINAL = ("succeed", "failed")


@pytest.fixture
def sim() -> Simulator:
    return Simulator(SimConfig(speed=0.001, seed=7, api_key=API_KEY))


@pytest.fixture
def base_url(sim: Simulator) -> Iterator[str]:
    with serving(create_app(sim)) as server:
        yield server.url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, headers=AUTH, timeout=5) as http:
        yield http


def create(http: httpx.Client, path: str = T2V, **body: Any) -> httpx.Response:
    return http.post(path, json={"prompt": "a cat surfing", **body})


def statuses_until_terminal(http: httpx.Client, task_ref: str, path: str = T2V) -> list[dict[str, Any]]:
    """Every distinct task object seen while polling, the terminal one last."""
    seen: list[dict[str, Any]] = []

    def terminal() -> bool:
        response = http.get(f"{path}/{task_ref}")
        if response.status_code == 200:
            data = response.json()["data"]
            if not seen or seen[-1]["task_status"] != data["task_status"]:
                seen.append(data)
        return bool(seen) and seen[-1]["task_status"] in TERMINAL

    wait_until(terminal)
    return seen


def test_kling_task_moves_submitted_processing_succeed(sim: Simulator, client: httpx.Client) -> None:
    sim.configure(speed=0.03, not_found_polls=0)  # submitted >= 60 ms, processing >= 600 ms
    created = create(client, external_task_id="job-1")
    assert created.status_code == 200
    body = created.json()
    assert body["code"] == 0
    assert body["message"] == "SUCCEED"
    assert body["request_id"]
    data = body["data"]
    assert data["task_id"].isdigit()
    assert len(data["task_id"]) == 18
    assert data["task_status"] == "submitted"
    assert data["task_info"] == {"external_task_id": "job-1"}
    assert data["created_at"] == data["updated_at"] > 1_600_000_000_000  # milliseconds

    seen = statuses_until_terminal(client, data["task_id"])
    assert [s["task_status"] for s in seen] == ["submitted", "processing", "succeed"]
    assert seen[0]["updated_at"] < seen[1]["updated_at"] < seen[2]["updated_at"]
    final = seen[-1]
    assert final["created_at"] == data["created_at"]
    assert final["final_unit_deduction"] == "1"
    (video,) = final["task_result"]["videos"]
    assert video["duration"] == "5"
    assert video["url"].startswith(str(client.base_url))
    assert "task_result" not in seen[0]
    assert "final_unit_deduction" not in seen[1]


def test_kling_scripted_failure_and_moderation(sim: Simulator, client: httpx.Client) -> None:
    sim.script(
        "kling",
        [
            Outcome(result="fail"),
            Outcome(result="moderation"),
            Outcome(result="fail", message="upstream exploded"),
        ],
    )
    task_ids = [create(client).json()["data"]["task_id"] for _ in range(3)]
    finals = [statuses_until_terminal(client, task_id)[-1] for task_id in task_ids]
    assert [f["task_status"] for f in finals] == ["failed"] * 3
    assert [f["task_status_msg"] for f in finals] == [
        "internal generation error",
        "Failure to pass the risk control system",
        "upstream exploded",
    ]
    assert all("task_result" not in f and f["final_unit_deduction"] == "0" for f in finals)
    # Once the script is used up, tasks fall back to the (zero) failure rates.
    assert (
        statuses_until_terminal(client, create(client).json()["data"]["task_id"])[-1]["task_status"]
        == "succeed"
    )


def test_kling_first_query_answers_task_not_exist(sim: Simulator, client: httpx.Client) -> None:
    task_id = create(client).json()["data"]["task_id"]
    first = client.get(f"{T2V}/{task_id}")
    assert first.status_code == 404
    assert first.json()["code"] == 1203
    assert first.json()["message"] == "task_not_exist"
    assert client.get(f"{T2V}/{task_id}").status_code == 200
    stats = sim.stats()["kling"]
    assert stats.queries == 2
    assert stats.queries_by_task == {task_id: 2}


def test_kling_unknown_task_and_wrong_operation_are_not_found(sim: Simulator, client: httpx.Client) -> None:
    sim.configure(not_found_polls=0)
    assert client.get(f"{T2V}/123456789012345678").json()["code"] == 1203
    task_id = create(client).json()["data"]["task_id"]
    assert client.get(f"/kling/v1/videos/image2video/{task_id}").status_code == 404
    assert client.get(f"{T2V}/{task_id}").status_code == 200


def test_kling_rate_limit_injection_creates_nothing(sim: Simulator, client: httpx.Client) -> None:
    sim.configure(rate_limit_rate=1.0)
    response = create(client, external_task_id="job-429")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json()["code"] == 1302
    assert sim.task_by_external_id("job-429") is None
    stats = sim.stats()["kling"]
    assert (stats.creates, stats.create_attempts, stats.rejected) == (0, 1, {"rate_limited": 1})


def test_kling_submit_error_injection_creates_nothing(sim: Simulator, client: httpx.Client) -> None:
    sim.configure(submit_error_rate=1.0)
    response = create(client, external_task_id="job-503")
    assert response.status_code == 503
    assert response.json()["code"] == 5001
    assert sim.task_by_external_id("job-503") is None
    assert sim.stats()["kling"].rejected == {"unavailable": 1}


def test_kling_scripted_refusals_come_first_and_create_nothing(sim: Simulator, client: httpx.Client) -> None:
    sim.configure(submit_error_rate=1.0)
    sim.refuse(
        "kling",
        [
            Refusal(fault=SubmitFault.REJECTED, message="prompt refused for key sk-echoed"),
            Refusal(fault=SubmitFault.RATE_LIMITED),
        ],
    )
    rejected, limited, drawn = (create(client, external_task_id=f"job-{n}") for n in range(3))
    assert (rejected.status_code, rejected.json()["code"]) == (400, 1201)
    assert rejected.json()["message"] == "prompt refused for key sk-echoed"
    assert (limited.status_code, limited.json()["code"]) == (429, 1302)
    assert limited.json()["message"] == "request rate too high"
    assert drawn.status_code == 503  # the scripted refusals spent, the fault rate decides again
    assert sim.stats()["kling"].creates == 0
    assert sim.stats()["kling"].rejected == {"rejected": 1, "rate_limited": 1, "unavailable": 1}


def test_kling_scripted_download_error_refuses_the_result_files(sim: Simulator, client: httpx.Client) -> None:
    sim.script("kling", [Outcome(result="succeed", download_error="AccessDenied for key sk-echoed")])
    final = statuses_until_terminal(client, create(client).json()["data"]["task_id"])[-1]
    assert final["task_status"] == "succeed"  # the task itself succeeded; only its files are refused
    response = httpx.get(final["task_result"]["videos"][0]["url"])
    assert response.status_code == 403
    assert response.json()["message"] == "AccessDenied for key sk-echoed"


def test_kling_duplicate_external_task_id_refused_and_counted(sim: Simulator, client: httpx.Client) -> None:
    first = create(client, external_task_id="job-dup")
    second = create(client, external_task_id="job-dup")
    assert first.status_code == 200
    assert second.status_code == 400
    assert second.json()["code"] == 1201
    assert second.json()["message"] == "external_task_id already exists"
    stats = sim.stats()["kling"]
    assert (stats.creates, stats.create_attempts, stats.duplicate_external_ids) == (1, 2, 1)
    task = sim.task_by_external_id("job-dup")
    assert task is not None
    assert task.task_id == first.json()["data"]["task_id"]


def test_kling_query_by_external_task_id_on_both_paths(sim: Simulator, client: httpx.Client) -> None:
    sim.configure(not_found_polls=0)
    task_id = create(client, external_task_id="job-ext").json()["data"]["task_id"]
    by_cometapi = client.get(f"{T2V}/job-ext").json()["data"]
    vendor = Channel("vendor", "", api_key=API_KEY, mode="vendor", secret_key=SimConfig().secret_key)
    by_vendor = client.get("/v1/videos/text2video/job-ext", headers=auth_headers(vendor)).json()["data"]
    assert by_cometapi["task_id"] == by_vendor["task_id"] == task_id
    assert by_cometapi["task_info"]["external_task_id"] == "job-ext"


def test_kling_wrong_or_missing_api_key_is_401(sim: Simulator, base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=5) as anonymous:
        wrong = anonymous.post(T2V, json={"prompt": "x"}, headers={"Authorization": "Bearer nope"})
        missing = anonymous.post(T2V, json={"prompt": "x"})
        query = anonymous.get(f"{T2V}/123456789012345678")
    for response in (wrong, missing, query):
        assert response.status_code == 401
        assert response.json()["code"] == 1000
        assert response.json()["message"] == "Authentication failed"
        assert response.json()["request_id"]
    assert sim.stats()["kling"].creates == 0
    assert sim.stats()["kling"].rejected == {"unauthorized": 2}


def test_kling_missing_required_fields_are_1201(client: httpx.Client) -> None:
    no_prompt = client.post(T2V, json={"duration": "5"})
    no_image = client.post("/kling/v1/videos/image2video", json={"prompt": "x"})
    bad_mode = create(client, mode="turbo")
    for response, field in ((no_prompt, "prompt"), (no_image, "image"), (bad_mode, "mode")):
        assert response.status_code == 400
        assert response.json()["code"] == 1201
        assert field in response.json()["message"]
    image = client.post("/kling/v1/videos/image2video", json={"image": "https://example.com/a.png"})
    assert image.status_code == 200


def test_file_links_are_stable_and_expire(sim: Simulator, client: httpx.Client) -> None:
    sim.configure(file_size=100_000)
    final = statuses_until_terminal(client, create(client).json()["data"]["task_id"])[-1]
    url = final["task_result"]["videos"][0]["url"]
    first, second = httpx.get(url), httpx.get(url)
    assert first.status_code == second.status_code == 200
    assert first.headers["content-type"] == "video/mp4"
    assert first.headers["content-length"] == "100000"
    assert len(first.content) == 100_000
    assert hashlib.sha256(first.content).digest() == hashlib.sha256(second.content).digest()
    assert httpx.get(url.replace("sig=", "sig=0")).status_code == 403

    sim.configure(url_ttl_s=-10)
    expired_url = client.get(f"{T2V}/{final['task_id']}").json()["data"]["task_result"]["videos"][0]["url"]
    assert httpx.get(expired_url).status_code == 403


def test_kling_callbacks_follow_each_status_change(
    sim: Simulator, client: httpx.Client, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, bodies = hook
    task_id = create(client, callback_url=url).json()["data"]["task_id"]
    wait_until(lambda: sim.stats()["kling"].callbacks_sent == 3)
    assert [b["task_status"] for b in bodies] == ["submitted", "processing", "succeed"]
    assert all("code" not in b and b["task_id"] == task_id for b in bodies)  # bare task objects
    assert bodies[-1]["task_result"]["videos"][0]["url"]


def test_a_second_server_that_stops_leaves_the_first_one_sending_callbacks(
    sim: Simulator, client: httpx.Client, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, bodies = hook
    with serving(create_app(sim)):
        pass  # its sender started and stopped on the same simulator
    # The task is created through the first server, so only its sender is left to wake.
    create(client, callback_url=url)
    wait_until(lambda: sim.stats()["kling"].callbacks_sent == 3)
    assert [b["task_status"] for b in bodies] == ["submitted", "processing", "succeed"]


def test_kling_duplicate_callbacks(
    sim: Simulator, client: httpx.Client, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, bodies = hook
    sim.configure(duplicate_callback_rate=1.0)
    create(client, callback_url=url)
    wait_until(lambda: sim.stats()["kling"].callbacks_sent == 6)
    statuses = [b["task_status"] for b in bodies]
    assert sorted(statuses) == sorted(["submitted", "processing", "succeed"] * 2)
    assert statuses[-1] == "succeed"


def test_kling_reordered_callbacks_deliver_stale_states_last(
    sim: Simulator, client: httpx.Client, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, bodies = hook
    sim.configure(reorder_callbacks=True)
    create(client, callback_url=url)
    wait_until(lambda: sim.stats()["kling"].callbacks_sent == 3)
    assert [b["task_status"] for b in bodies] == ["succeed", "processing", "submitted"]


def test_kling_dropped_callbacks_are_never_sent(
    sim: Simulator, client: httpx.Client, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, bodies = hook
    sim.configure(drop_callbacks=True)
    create(client, callback_url=url)
    wait_until(lambda: sim.stats()["kling"].callbacks_dropped == 3)
    assert bodies == []
    assert sim.stats()["kling"].callbacks_sent == 0


def test_a_held_task_runs_until_released_then_ends_with_its_callback(
    sim: Simulator, client: httpx.Client, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, bodies = hook
    sim.configure(not_found_polls=0)
    sim.script("kling", [Outcome(result="succeed", held=True)])
    held = create(client, callback_url=url).json()["data"]["task_id"]
    unheld = create(client).json()["data"]["task_id"]
    statuses_until_terminal(client, unheld)  # another task runs its whole course meanwhile
    wait_until(lambda: [b["task_status"] for b in bodies] == ["submitted", "processing"])
    assert client.get(f"{T2V}/{held}").json()["data"]["task_status"] == "processing"
    assert client.post("/_sim/release", json={"provider": "midjourney"}).json() == {"released": 0}
    assert client.post("/_sim/release", json={"provider": "kling"}).json() == {"released": 1}
    assert client.get(f"{T2V}/{held}").json()["data"]["task_status"] == "succeed"
    wait_until(lambda: [b["task_status"] for b in bodies] == ["submitted", "processing", "succeed"])
    assert sim.release("kling") == 0  # released once


def test_kling_callback_to_dead_receiver_is_counted_failed(sim: Simulator, client: httpx.Client) -> None:
    create(client, callback_url="http://127.0.0.1:9/nowhere")
    wait_until(lambda: sim.stats()["kling"].callbacks_failed == 3)


def test_stats_max_concurrent(sim: Simulator, client: httpx.Client) -> None:
    sim.script("kling", [Outcome(result="succeed", processing_s=60.0)] * 3)
    for _ in range(3):
        create(client)
    stats = sim.stats()["kling"]
    assert (stats.max_concurrent, stats.running_now, stats.creates) == (3, 3, 3)

    sim.reset()
    stats = sim.stats()["kling"]
    assert (stats.max_concurrent, stats.running_now, stats.creates) == (0, 0, 0)
    for _ in range(3):  # one after another: never two at once
        sim.script("kling", [Outcome(result="succeed", submitted_s=0.01, processing_s=0.02)])
        create(client)
        wait_until(lambda: sim.stats()["kling"].running_now == 0)
    assert sim.stats()["kling"].max_concurrent == 1
    assert client.get("/_sim/stats").json()["kling"]["max_concurrent"] == 1


def test_max_overlap_treats_intervals_as_half_open() -> None:
    assert max_overlap([(0, 1), (1, 2), (2, 3)]) == 1
    assert max_overlap([(0, 3), (1, 2), (1.5, 4), (5, 5)]) == 3
    assert max_overlap([]) == 0


def test_control_endpoints(sim: Simulator, client: httpx.Client) -> None:
    assert client.post("/_sim/config", json={"not_found_polls": 0}).json()["not_found_polls"] == 0
    assert sim.config.not_found_polls == 0
    assert client.post("/_sim/config", json={"failure_rate": 2}).status_code == 422
    assert client.post("/_sim/config", json={"no_such_knob": 1}).status_code == 422
    script = {"provider": "kling", "outcomes": [{"result": "moderation"}]}
    assert client.post("/_sim/script", json=script).json() == {"queued": 1}
    assert client.post("/_sim/script", json={**script, "provider": "nope"}).status_code == 404
    refusals = {"provider": "kling", "refusals": [{"fault": "rejected", "message": "no"}]}
    assert client.post("/_sim/refuse", json=refusals).json() == {"queued": 1}
    assert client.post("/_sim/refuse", json={**refusals, "provider": "nope"}).status_code == 404
    assert client.post("/_sim/refuse", json={**refusals, "refusals": [{"fault": "odd"}]}).status_code == 422
    assert create(client).json()["message"] == "no"
    final = statuses_until_terminal(client, create(client).json()["data"]["task_id"])[-1]
    assert final["task_status_msg"] == "Failure to pass the risk control system"
    assert client.get("/_sim/stats").json()["kling"]["creates"] == 1

    assert client.post("/_sim/reset").status_code == 200
    assert client.get("/_sim/stats").json()["kling"]["creates"] == 0
    assert client.get("/_sim/config").json()["not_found_polls"] == 0  # reset keeps the config


def test_seeded_simulators_replay_the_same_tasks() -> None:
    def run() -> list[tuple[str, float, str]]:
        simulator = Simulator(SimConfig(seed=42, failure_rate=0.5))
        create_app(simulator)  # registers the providers
        tasks = [
            simulator.create_task(NewTask("kling", "text2video", {"prompt": "x"}, "http://sim/"))
            for _ in range(5)
        ]
        return [(t.task_id, t.processing_s, t.result) for t in tasks]

    assert run() == run()


def test_adapter_submit_poll_download(sim: Simulator, base_url: str) -> None:
    kling = Kling()
    channel = Channel(name="kling-sim", base_url=base_url, api_key=API_KEY)
    request = SubmitRequest(
        job_id="job-adapter", operation="text2video", model="kling-v1-6", input={"prompt": "a fox"}
    )
    with httpx.Client(timeout=5) as http:
        task_id = kling.submit(http, channel, request)
        ref = TaskRef(job_id="job-adapter", operation="text2video", external_id=task_id)
        first = kling.poll(http, channel, ref)
        assert first.status is UpstreamStatus.UNKNOWN
        assert first.raw_status == "task_not_exist"

        def succeeded() -> ProviderUpdate | None:
            update = kling.poll(http, channel, ref)
            return update if update.status is UpstreamStatus.SUCCEEDED else None

        done = wait_until(succeeded)
        assert done.external_id == task_id
        (output,) = done.outputs
        assert output.content_type == "video/mp4"
        digests = {
            hashlib.sha256(http.get(output.url).raise_for_status().content).hexdigest() for _ in range(2)
        }
        assert len(digests) == 1
        found = kling.find(http, channel, "job-adapter", "text2video")
        assert found is not None
        assert found.external_id == task_id

        vendor = Channel(
            name="kling-vendor",
            base_url=base_url,
            api_key=API_KEY,
            mode="vendor",
            secret_key=SimConfig().secret_key,
        )
        assert kling.poll(http, vendor, ref).status is UpstreamStatus.SUCCEEDED

        sim.configure(rate_limit_rate=1.0)
        with pytest.raises(ProviderUnavailableError):
            kling.submit(http, channel, SubmitRequest("job-2", "text2video", "kling-v1-6", {"prompt": "x"}))
    assert sim.stats()["kling"].creates == 1


def test_adapter_read_timeout_leaves_a_created_task(sim: Simulator, base_url: str) -> None:
    sim.configure(read_timeout_rate=1.0, stall_s=20.0, not_found_polls=0)
    kling = Kling()
    channel = Channel(name="kling-sim", base_url=base_url, api_key=API_KEY)
    request = SubmitRequest("job-stall", "text2video", "kling-v1-6", {"prompt": "x"})
    with httpx.Client(timeout=0.3) as http, pytest.raises(SubmitOutcomeUnknownError):
        kling.submit(http, channel, request)
    task = sim.task_by_external_id("job-stall")
    assert task is not None  # the answer was lost, the task was not
    sim.configure(read_timeout_rate=0.0)
    with httpx.Client(timeout=5) as http:
        found = kling.find(http, channel, "job-stall", "text2video")
    assert found is not None
    assert found.external_id == task.task_id


def test_kling_vendor_path_refuses_a_bearer_key_or_a_forged_jwt(sim: Simulator, client: httpx.Client) -> None:
    sim.configure(not_found_polls=0)
    create(client, external_task_id="job-jwt")
    forged = Channel(
        "vendor", "", api_key=API_KEY, mode="vendor", secret_key="not-the-simulator-secret-but-long-enough"
    )
    assert client.get("/v1/videos/text2video/job-jwt").status_code == 401  # bearer key on the vendor host
    assert client.get("/v1/videos/text2video/job-jwt", headers=auth_headers(forged)).status_code == 401
