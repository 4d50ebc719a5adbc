"""The naive design, on purpose: one Celery task per job submits it to the (simulated) Kling API,
`time.sleep`-polls every few seconds until the task ends, then downloads the video to a folder. A
worker slot is held for the whole upstream wait. Configured from the environment:

    NAIVE_BROKER_URL, NAIVE_KEY_PREFIX, NAIVE_UPSTREAM_URL, NAIVE_UPSTREAM_KEY, NAIVE_OUT_DIR,
    NAIVE_POLL_S (3)

    celery -A bench.naive.app worker -Q naive -c 4
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
from celery import Celery

QUEUE = "naive"
TASK = "naive.generate"
ROUTE = "/kling/v1/videos/text2video"


def create_app() -> Celery:
    app = Celery("naive", broker=os.environ.get("NAIVE_BROKER_URL", "redis://127.0.0.1:6379/0"))
    prefix = os.environ.get("NAIVE_KEY_PREFIX")
    app.conf.update(
        broker_transport_options={"global_keyprefix": prefix} if prefix else {},
        task_default_queue=QUEUE,
        task_ignore_result=True,
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
    )
    return app


app = create_app()


@app.task(name=TASK)  # type: ignore[untyped-decorator]  # Celery ships no types
def generate(job_index: int, prompt: str) -> None:
    upstream = os.environ["NAIVE_UPSTREAM_URL"]
    headers = {"Authorization": f"Bearer {os.environ.get('NAIVE_UPSTREAM_KEY', 'sk-simulator')}"}
    with httpx.Client(base_url=upstream, headers=headers, timeout=30) as client:
        body = {"model_name": "kling-v1", "prompt": prompt, "duration": "5"}
        task_id = client.post(ROUTE, json=body).raise_for_status().json()["data"]["task_id"]
        while True:
            time.sleep(float(os.environ.get("NAIVE_POLL_S", "3")))
            answer = client.get(f"{ROUTE}/{task_id}")
            if answer.status_code != 200:
                continue  # not visible yet
            task = answer.json()["data"]
            if task["task_status"] in {"succeed", "failed"}:
                break
        if task["task_status"] == "succeed":
            download(client, task["task_result"]["videos"][0]["url"], job_index)


def download(client: httpx.Client, url: str, job_index: int) -> None:
    folder = Path(os.environ["NAIVE_OUT_DIR"])
    partial = folder / f"{job_index}.mp4.part"
    with client.stream("GET", url) as response, partial.open("wb") as out:
        for chunk in response.raise_for_status().iter_bytes():
            out.write(chunk)
    partial.rename(folder / f"{job_index}.mp4")  # a finished job is a whole file
