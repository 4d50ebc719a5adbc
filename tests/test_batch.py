"""`genrelay batch run` and `genrelay jobs watch` as a user runs them: the installed command in a
subprocess, against a running genrelay (real API server and Celery worker) with the simulator upstream."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from orchestrator import ledger
from orchestrator.db import Database
from orchestrator.models import Job
from orchestrator.ops import admin
from tests import services
from tests.conftest import CREDITS, Tenant
from tests.factories import kling_request
from tests.processes import interruptible
from tests.stack import Stack
from workers.simulator import Outcome, Simulator

pytestmark = pytest.mark.e2e
GENRELAY = Path(sys.executable).with_name("genrelay")
KLING_PRICE, SUNO_PRICE = 200_000, 120_000


def client_env(stack: Stack | None, api_key: str | None) -> dict[str, str]:
    """The environment a user would set: the API's URL and their key (kept off the command line)."""
    env = {k: v for k, v in os.environ.items() if k not in {"GENRELAY_API_KEY", "GENRELAY_URL"}}
    if stack is not None:
        env["GENRELAY_URL"] = stack.settings.public_base_url
    if api_key is not None:
        env["GENRELAY_API_KEY"] = api_key
    return env


def genrelay(stack: Stack | None, api_key: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GENRELAY), *args],
        env=client_env(stack, api_key),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def suno_request(prompt: str) -> dict[str, Any]:
    return {
        "provider": "suno",
        "operation": "music",
        "model": "chirp-v4",
        "input": {"gpt_description_prompt": prompt},
    }


def six_lines() -> list[dict[str, Any]]:
    return [
        {"id": "boat", **kling_request("a paper boat")},
        {"id": "lake", **kling_request("a lake at dawn")},
        {"id": "fox", **kling_request("a fox in snow")},
        kling_request("a lighthouse"),  # no id: line 4 names it
        {"id": "song-a", **suno_request("a synth-pop song about city lights")},
        suno_request("a sea shanty"),
    ]


def write_batch(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def manifest(out: Path) -> dict[str, dict[str, Any]]:
    records = [json.loads(raw) for raw in (out / "manifest.jsonl").read_text().splitlines()]
    by_line = {record["line_id"]: record for record in records}
    assert len(by_line) == len(records), "the final manifest holds one record per line"
    return by_line


def api_jobs(stack: Stack, tenant: Tenant) -> dict[str, dict[str, Any]]:
    page = stack.api.get("/v1/jobs", params={"limit": 100}, headers=tenant.headers).json()
    return {job["job_id"]: job for job in page["data"]}


def file_identities(out: Path) -> dict[str, tuple[int, int]]:
    """Every file under `out` but the manifest, by inode and modification time: proof of untouched."""
    return {
        str(path.relative_to(out)): (path.stat().st_ino, path.stat().st_mtime_ns)
        for path in out.rglob("*")
        if path.is_file() and path.name not in {"manifest.jsonl", ".lock"}
    }


def assert_downloaded(out: Path, record: dict[str, Any], job: dict[str, Any]) -> None:
    assert record["status"] == job["status"] == "succeeded"
    assert len(record["files"]) == len(job["outputs"]) >= 1
    for file, output in zip(record["files"], job["outputs"], strict=True):
        content = (out / file["path"]).read_bytes()
        assert hashlib.sha256(content).hexdigest() == file["sha256"] == output["sha256"]
        assert len(content) == file["size"] == output["size_bytes"]
        assert file["path"].startswith(f"{record['line_id']}/{output['index']}")
    assert record["cost"] == {"charged": job["charged"], "credits": f"{job['charged'] / CREDITS:g}"}


class Batch:
    """One batch file and its output folder, run as a user would, against one tenant."""

    def __init__(self, stack: Stack, tenant: Tenant, folder: Path, lines: list[dict[str, Any]]) -> None:
        self.stack, self.tenant, self.lines = stack, tenant, lines
        self.source, self.out = folder / "shots.jsonl", folder / "out"
        write_batch(self.source, lines)

    def run(self, *options: str) -> subprocess.CompletedProcess[str]:
        args = ["batch", "run", str(self.source), "--out", str(self.out), *options]
        return genrelay(self.stack, self.tenant.api_key, *args)

    def jobs(self) -> dict[str, dict[str, Any]]:
        return api_jobs(self.stack, self.tenant)

    def change(self, line_id: str, prompt: str) -> None:
        index = [line.get("id") for line in self.lines].index(line_id)
        self.lines[index] = {**self.lines[index], "input": {"prompt": prompt, "duration": 5}}
        write_batch(self.source, self.lines)


def without(mapping: dict[str, Any], line_id: str) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if key.split("/")[0] != line_id}


def test_batch_runs_every_line_downloads_and_records_it(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator, tmp_path: Path
) -> None:
    simulator.configure(speed=0.01)
    simulator.script("kling", [Outcome(result="fail", message="GPU fell over")])
    batch = Batch(start_stack(), tenant, tmp_path, six_lines())

    first = batch.run()
    assert first.returncode == 1, first.stdout + first.stderr  # one line failed upstream
    records, jobs = manifest(batch.out), batch.jobs()
    assert set(records) == {"boat", "lake", "fox", "4", "song-a", "6"}
    assert {r["job_id"] for r in records.values()} == set(jobs)  # one job per line, no more
    [failed] = [r for r in records.values() if r["status"] != "succeeded"]
    assert (failed["provider"], failed["status"], failed["files"]) == ("kling", "failed", [])
    assert failed["error"] == {"code": "upstream_failed", "message": "GPU fell over"}
    assert failed["cost"] == {"charged": 0, "credits": "0"}
    for record in records.values():
        if record is not failed:
            assert_downloaded(batch.out, record, jobs[record["job_id"]])
    assert len(records["song-a"]["files"]) >= 2  # a Suno job makes several files
    assert "finished: 6 lines, 5 done, 1 not done" in first.stdout
    assert f"1 x failed/upstream_failed: GPU fell over (lines {failed['line_id']})" in first.stdout
    assert f"credits spent: {(3 * KLING_PRICE + 2 * SUNO_PRICE) / CREDITS:g}" in first.stdout
    assert tenant.api_key not in first.stdout + first.stderr
    assert not [p for p in batch.out.rglob("*") if p.name.endswith((".part", ".tmp"))]


def test_batch_rerun_makes_no_new_job_and_a_changed_line_makes_one(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator, tmp_path: Path
) -> None:
    simulator.configure(speed=0.01)
    simulator.script("kling", [Outcome(result="fail", message="GPU fell over")])
    batch = Batch(start_stack(), tenant, tmp_path, six_lines())
    assert batch.run().returncode == 1
    records, jobs, files = manifest(batch.out), batch.jobs(), file_identities(batch.out)
    [failed_id] = [line_id for line_id, r in records.items() if r["status"] == "failed"]

    again = batch.run()
    assert again.returncode == 1, again.stdout + again.stderr
    assert "6 lines, 5 done, 1 not done (6 settled before this run" in again.stdout
    assert set(batch.jobs()) == set(jobs)  # no new job
    assert (manifest(batch.out), file_identities(batch.out)) == (records, files)  # files untouched

    changed_id = next(line_id for line_id in ("boat", "lake", "fox") if line_id != failed_id)
    batch.change(changed_id, "a new take")
    assert batch.run().returncode == 1
    after = manifest(batch.out)
    assert set(batch.jobs()) - set(jobs) == {after[changed_id]["job_id"]}  # one new job, the changed line's
    assert_downloaded(batch.out, after[changed_id], batch.jobs()[after[changed_id]["job_id"]])
    assert without(after, changed_id) == without(records, changed_id)
    assert without(file_identities(batch.out), changed_id) == without(files, changed_id)

    retried = batch.run("--retry-failed")
    assert retried.returncode == 0, retried.stdout + retried.stderr
    final = manifest(batch.out)[failed_id]
    assert (final["attempt"], final["job_id"] in jobs) == (1, False)  # a new job under a new key
    assert_downloaded(batch.out, final, batch.jobs()[final["job_id"]])
    assert len(batch.jobs()) == 8


def test_batch_server_mode_runs_the_file_as_one_genrelay_batch_and_a_rerun_pays_nothing(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator, tmp_path: Path
) -> None:
    simulator.configure(speed=0.01)
    simulator.script("kling", [Outcome(result="fail", message="GPU fell over")])
    batch = Batch(start_stack(), tenant, tmp_path, six_lines())

    first = batch.run("--server")
    assert first.returncode == 1, first.stdout + first.stderr
    records, jobs = manifest(batch.out), batch.jobs()
    assert {r["job_id"] for r in records.values()} == set(jobs)  # one job per line, no more
    [server_batch] = {r["server_batch_id"] for r in records.values()}
    shown = batch.stack.api.get(f"/v1/batches/{server_batch}", headers=tenant.headers).json()
    assert (shown["status"], shown["request_counts"]["succeeded"]) == ("completed", 5)
    [failed] = [r for r in records.values() if r["status"] != "succeeded"]
    assert (failed["status"], failed["error"]["code"]) == ("failed", "upstream_failed")
    for record in records.values():
        if record is not failed:
            assert_downloaded(batch.out, record, jobs[record["job_id"]])
    assert "finished: 6 lines, 5 done, 1 not done" in first.stdout
    files = file_identities(batch.out)

    again = batch.run("--server")
    assert again.returncode == 1, again.stdout + again.stderr
    assert "(6 settled before this run" in again.stdout
    assert set(batch.jobs()) == set(jobs)  # nothing sent: no new job, no new batch
    assert file_identities(batch.out) == files
    listed = batch.stack.api.get("/v1/batches", headers=tenant.headers).json()["data"]
    assert [b["batch_id"] for b in listed] == [server_batch]

    retried = batch.run("--server", "--retry-failed")
    assert retried.returncode == 0, retried.stdout + retried.stderr
    final = manifest(batch.out)[failed["line_id"]]
    assert final["server_batch_id"] != server_batch  # the failed line alone, in a batch of its own
    assert_downloaded(batch.out, final, batch.jobs()[final["job_id"]])
    assert len(batch.jobs()) == 7


def test_batch_stops_submitting_without_credits_and_finishes_after_a_top_up(
    start_stack: Callable[..., Stack],
    make_tenant: Callable[..., Tenant],
    simulator: Simulator,
    db: Database,
    tmp_path: Path,
) -> None:
    simulator.configure(speed=0.01)
    tenant = make_tenant(credits=2 * KLING_PRICE)
    batch = Batch(start_stack(), tenant, tmp_path, [kling_request(f"shot {n}") for n in range(4)])

    short = batch.run("--concurrency", "2")
    assert short.returncode == 1, short.stdout + short.stderr
    statuses = sorted(r["status"] for r in manifest(batch.out).values())
    assert statuses == ["not_submitted", "not_submitted", "succeeded", "succeeded"]
    assert "2 x not_submitted/insufficient_credits" in short.stdout
    assert len(batch.jobs()) == 2

    with db.transaction() as session:
        ledger.add_credits(session, tenant.account_id, 10 * CREDITS, "top-up")
    resumed = batch.run("--concurrency", "2")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "4 lines, 4 done, 0 not done (2 settled before this run" in resumed.stdout
    assert len(batch.jobs()) == 4
    assert all(r["status"] == "succeeded" for r in manifest(batch.out).values())


def test_batch_waits_out_rate_limits_and_still_makes_one_job_per_line(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator, db: Database, tmp_path: Path
) -> None:
    simulator.configure(speed=0.01)
    with db.transaction() as session:
        admin.set_limits(session, tenant.account_id, {"rate_limit_rps": 2})
    batch = Batch(start_stack(), tenant, tmp_path, [kling_request(f"shot {n}") for n in range(4)])

    result = batch.run("--concurrency", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rate limited: " in result.stdout  # answers 429 came, and were waited out
    with db.transaction() as session:  # the API would rate-limit the count too
        assert session.execute(select(func.count()).select_from(Job)).scalar_one() == 4
    assert all(r["status"] == "succeeded" for r in manifest(batch.out).values())


def test_batch_interrupted_keeps_jobs_running_and_a_rerun_picks_them_up(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator, tmp_path: Path
) -> None:
    simulator.configure(speed=0.01)
    simulator.script("kling", [Outcome(result="succeed", held=True)] * 3)  # unfinished until released
    stack = start_stack()
    batch = Batch(stack, tenant, tmp_path, [kling_request(f"shot {n}") for n in range(3)])
    command = [str(GENRELAY), "batch", "run", str(batch.source), "--out", str(batch.out)]
    env = client_env(stack, tenant.api_key)
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    with subprocess.Popen(interruptible(command), env=env, **pipes) as run:
        services.wait_until(
            lambda: [job["status"] for job in batch.jobs().values()].count("running") == 3,
            timeout=30,
            message="3 jobs running upstream (so their creation was answered long ago)",
        )
        run.send_signal(signal.SIGINT)
        stdout, stderr = run.communicate(timeout=30)
    assert run.returncode == 130, stdout + stderr
    assert "interrupted: 3 lines, 0 done" in stdout
    assert not [p for p in batch.out.rglob("*") if p.name.endswith((".part", ".tmp"))]
    jobs = batch.jobs()
    assert all(job["status"] not in {"cancelled", "failed"} for job in jobs.values())  # still running
    records = manifest(batch.out)
    assert {r["job_id"] for r in records.values()} == set(jobs)
    assert {(r["status"], r["error"]["code"]) for r in records.values()} == {("unfinished", "interrupted")}

    assert simulator.release("kling") == 3
    resumed = batch.run()
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert set(batch.jobs()) == set(jobs)  # the same three jobs, followed to their end
    records = manifest(batch.out)
    assert {r["job_id"] for r in records.values()} == set(jobs)
    for record in records.values():
        assert_downloaded(batch.out, record, batch.jobs()[record["job_id"]])


def test_jobs_watch_prints_the_timeline_and_the_outputs_or_the_error(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator
) -> None:
    simulator.configure(speed=0.01)
    stack = start_stack()
    finished = stack.wait_for_end(tenant, stack.create(tenant, kling_request()))
    assert finished["status"] == "succeeded"

    watched = genrelay(stack, tenant.api_key, "jobs", "watch", finished["job_id"], "--interval", "0.1")
    assert watched.returncode == 0, watched.stdout + watched.stderr
    events = stack.api.get(f"/v1/jobs/{finished['job_id']}/events", headers=tenant.headers).json()["data"]
    for event in events:
        assert (
            f"#{event['sequence']:<3} {event['from_status'] or '-'} -> {event['to_status']}" in watched.stdout
        )
    assert "succeeded: 1 output(s), charged 0.2 credits" in watched.stdout
    assert finished["outputs"][0]["sha256"] in watched.stdout
    assert stack.settings.public_base_url in watched.stdout  # the download URL

    simulator.script("kling", [Outcome(result="fail", message="GPU fell over", processing_s=1.0)])
    running = stack.create(tenant, kling_request())  # watched from its start, while it runs
    failed = genrelay(stack, tenant.api_key, "jobs", "watch", running, "--interval", "0.1")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "-> failed" in failed.stdout
    assert failed.stdout.rstrip().endswith("failed: upstream_failed: GPU fell over")


def test_batch_and_watch_refuse_bad_usage_with_exit_code_2(tmp_path: Path) -> None:
    source, out = tmp_path / "shots.jsonl", str(tmp_path / "out")
    source.write_text(json.dumps(kling_request()) + "\n{not json\n")
    bad_line = genrelay(None, "gr_unused", "batch", "run", str(source), "--out", out)
    assert bad_line.returncode == 2
    assert "line 2: not valid JSON" in bad_line.stderr
    same_id = json.dumps({"id": "a", **kling_request()})
    source.write_text(f"{same_id}\n{same_id}\n")
    duplicate = genrelay(None, "gr_unused", "batch", "run", str(source), "--out", out)
    assert duplicate.returncode == 2
    assert "id 'a' is also used by line 1" in duplicate.stderr
    no_key = genrelay(None, None, "jobs", "watch", "0193f7c2-0000-7000-8000-000000000000")
    assert no_key.returncode == 2
    assert "no API key" in no_key.stderr
    assert not Path(out).exists()  # nothing was sent, nothing was written
