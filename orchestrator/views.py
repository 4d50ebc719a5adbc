"""Projection of job rows into the API's shapes, with download URLs minted at read time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator import models
from orchestrator.outlook import UNKNOWN, Outlook
from orchestrator.storage import Storage
from schemas import failures
from schemas.jobs import Job, JobError, JobEvent, JobOutput, JobStatus, ProviderFailure
from workers.providers.compat import JobView


def provider_view(job: models.Job, outputs: Mapping[str, str], api_url: str = "") -> JobView:
    """The job as a provider's projection sees it, with its outputs' download links by label."""
    return JobView(
        job_id=str(job.job_id),
        provider=job.provider,
        operation=job.operation,
        model=job.model,
        status=job.state,
        progress=job.progress,
        input=job.input,
        result=job.result,
        error_code=job.error_code,
        error_message=job.error_message,
        client_reference=job.client_reference,
        external_id=job.external_id,
        upstream_status=job.upstream_status,
        callback_url=job.callback_url,
        price=job.price,
        charged=job.charged,
        created_at=job.created_at,
        updated_at=job.updated_at,
        submitted_at=job.submitted_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        outputs=dict(outputs),
        api_url=api_url,
    )


def job_snapshot(job: models.Job) -> dict[str, Any]:
    """The job as the API shows it, minus result links (which expire, so are minted when shown)."""
    view = Job(
        job_id=str(job.job_id),
        provider=job.provider,
        operation=job.operation,
        model=job.model,
        status=JobStatus(job.state),
        progress=job.progress,
        outputs=[],
        outputs_expired_at=job.outputs_expired_at,
        inputs_cleared_at=job.inputs_cleared_at,
        data_deleted_at=job.data_deleted_at,
        error=job_error(job),
        result=job.result,
        parent_job_id=str(job.parent_job_id) if job.parent_job_id else None,
        price=job.price,
        charged=job.charged,
        metadata=job.metadata_,
        callback_url=job.callback_url,
        created_at=job.created_at,
        updated_at=job.updated_at,
        submitted_at=job.submitted_at,
        finished_at=job.finished_at,
        deadline_at=job.deadline_at,
        start_deadline_at=job.start_deadline_at,
        webhook_events=job.webhook_events,
    )
    return view.model_dump(mode="json")


def job_error(job: models.Job) -> JobError | None:
    """Why the job ended without a result: our code, whether it is worth retrying, and the provider's
    own code and message when it gave them."""
    if not job.error_code:
        return None
    upstream = job.provider_error or {}
    provider = (
        ProviderFailure(code=upstream.get("code"), message=upstream.get("message")) if upstream else None
    )
    return JobError(
        code=job.error_code,
        message=job.error_message or "",
        retryable=failures.retryable(job.error_code),
        provider=provider,
    )


def output_views(outputs: Sequence[models.JobOutput], storage: Storage, url_ttl_s: int) -> list[JobOutput]:
    return [
        JobOutput(
            index=output.output_index,
            label=output.label,
            url=storage.download_url(output.storage_key, expires_in=url_ttl_s),
            content_type=output.content_type,
            size_bytes=output.size_bytes,
            sha256=output.sha256,
        )
        for output in sorted(outputs, key=lambda o: o.output_index)
    ]


def job_view(
    job: models.Job,
    outputs: Sequence[models.JobOutput],
    storage: Storage,
    url_ttl_s: int,
    outlook: Outlook = UNKNOWN,
) -> Job:
    view = Job.model_validate(job_snapshot(job))
    if job.state == JobStatus.SUCCEEDED:
        view.outputs = output_views(outputs, storage, url_ttl_s)
    view.queue_position = outlook.queue_position
    view.estimated_finish_at = outlook.estimated_finish_at
    return view


def event_view(event: models.JobEvent) -> JobEvent:
    return JobEvent(
        sequence=event.sequence,
        from_status=JobStatus(event.from_state) if event.from_state else None,
        to_status=JobStatus(event.to_state),
        progress=event.progress,
        detail=event.detail,
        created_at=event.created_at,
    )
