"""The caller's jobs as a provider's compatible routes use them (`workers.providers.compat.Jobs`):
create, look up, cancel and continue, each through the same use-cases as the unified routes."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from orchestrator import messaging
from orchestrator.api import intake
from orchestrator.api.context import AppContext
from orchestrator.api.request_log import note_job
from orchestrator.errors import JobNotCancellableError
from orchestrator.models import Job, JobOutput
from orchestrator.pipeline import webhook_secrets
from orchestrator.pipeline.channels import configured
from orchestrator.tenants import job_data, jobs
from orchestrator.tenants.accounts import Principal
from orchestrator.tenants.creating import Origin
from orchestrator.views import provider_view
from schemas.jobs import JobCreate, JobStatus
from workers.providers.compat import (
    MAX_CLIENT_REFERENCE,
    CancelOutcome,
    CompatAnswer,
    CompatError,
    JobView,
    Lookup,
    Page,
    Render,
    invalid,
    not_found,
)


def as_job_id(reference: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(reference)
    except ValueError:
        return None


def output_urls(context: AppContext, outputs: Sequence[JobOutput]) -> dict[str, str]:
    """Download links of the stored outputs, by label (or index when unlabelled)."""
    ttl = context.settings.download_url_ttl_s
    return {
        output.label or str(output.output_index): context.storage.download_url(
            output.storage_key, expires_in=ttl
        )
        for output in sorted(outputs, key=lambda o: o.output_index)
    }


class CallerJobs:
    """One caller's jobs reached through one route family: a provider's own family sees the caller's
    jobs of that provider; a shared family (`provider` None) those created through it. A job whose
    outputs were deleted through a family is gone from every family's routes."""

    def __init__(
        self,
        context: AppContext,
        caller: Principal,
        provider: str | None,
        family: str,
        idempotency_key: str | None = None,
    ) -> None:
        self.context = context
        self.caller = caller
        self.provider = provider
        self.family = family
        self.idempotency_key = idempotency_key

    def view(self, job: Job, outputs: Sequence[JobOutput]) -> JobView:
        return provider_view(job, output_urls(self.context, outputs), self.context.settings.public_base_url)

    def create(
        self, request: JobCreate, render: Render, *, client_reference: str | None = None
    ) -> CompatAnswer:
        answers: dict[str, CompatAnswer] = {}

        def render_job(job: Job, outputs: Sequence[JobOutput]) -> tuple[int, Any]:
            answer = render(self.view(job, outputs))
            answers["answer"] = answer
            return answer.status, answer.body

        if client_reference is not None and len(client_reference) > MAX_CLIENT_REFERENCE:
            raise invalid(f"a task's own id is at most {MAX_CLIENT_REFERENCE} characters")
        origin = Origin(api_format=self.family, client_reference=client_reference)
        accepted = intake.accept(
            self.context,
            self.caller,
            request,
            render_job,
            idempotency_key=self.idempotency_key,
            origin=origin,
        )
        headers = dict(answers["answer"].headers) if "answer" in answers else {}
        if accepted.replayed:
            headers["Idempotent-Replayed"] = "true"
        return CompatAnswer(accepted.status, accepted.body, headers)

    def get(
        self,
        reference: str,
        *,
        lookup: Sequence[Lookup] = (Lookup.JOB_ID, Lookup.CLIENT_REFERENCE),
        operation: str | None = None,
        field: str | None = None,
    ) -> JobView:
        with self.context.db.transaction() as session:
            job = self._find(session, reference, lookup, operation)
            if job is None:
                raise not_found(f"no task {reference!r} in this account", field)
            note_job(job.job_id)
            outputs = session.execute(select(JobOutput).where(JobOutput.job_id == job.job_id)).scalars().all()
        return self.view(job, outputs)

    def _scope(self) -> Select[Job]:
        query = select(Job).where(Job.account_id == self.caller.account_id, Job.data_deleted_at.is_(None))
        if self.provider is None:
            return query.where(Job.api_format == self.family)
        return query.where(Job.provider == self.provider)

    def _find(
        self, session: Session, reference: str, lookup: Sequence[Lookup], operation: str | None
    ) -> Job | None:
        query = self._scope()
        if operation is not None:
            query = query.where(Job.operation == operation)
        job_id = as_job_id(reference)
        if Lookup.JOB_ID in lookup and job_id is not None:
            found = session.execute(query.where(Job.job_id == job_id)).scalars().first()
            if found is not None or not {Lookup.EXTERNAL_ID, Lookup.RESULT_REF} & set(lookup):
                return found
        matches = []
        if Lookup.CLIENT_REFERENCE in lookup and job_id is None:
            matches.append(Job.client_reference == reference)
        if Lookup.EXTERNAL_ID in lookup:
            matches.append(Job.external_id == reference)
        if Lookup.RESULT_REF in lookup:
            # JSONB containment; newest first over the account's jobs, so a recent product is found at once.
            matches.append(Job.result["refs"].contains([reference]))
        if not matches or "\x00" in reference:  # no stored text holds NUL (PostgreSQL refuses it)
            return None
        newest = query.where(or_(*matches)).order_by(Job.job_id.desc()).limit(1)
        return session.execute(newest).scalars().first()

    def get_many(self, references: Sequence[str]) -> list[JobView]:
        wanted = [job_id for job_id in map(as_job_id, references) if job_id is not None]
        with self.context.db.transaction() as session:
            found = _with_outputs(session, self._scope().where(Job.job_id.in_(wanted)))
        return [self.view(*found[job_id]) for job_id in dict.fromkeys(wanted) if job_id in found]

    def page(self, *, after: str | None, limit: int, newest_first: bool) -> Page:
        query = self._scope()
        if after is not None:
            after_id = as_job_id(after)
            if after_id is None:
                raise invalid(f"after must be the id of one of your videos, not {after!r}", "after")
            query = query.where(Job.job_id < after_id if newest_first else Job.job_id > after_id)
        # Job ids are UUIDv7: their order is their creation order.
        order = Job.job_id.desc() if newest_first else Job.job_id.asc()
        with self.context.db.transaction() as session:
            found = _with_outputs(session, query.order_by(order).limit(limit + 1))
        views = [self.view(job, outputs) for job, outputs in list(found.values())[:limit]]
        return Page(views, has_more=len(found) > limit)

    def delete_outputs(self, reference: str) -> JobView:
        view = self.get(reference)
        if not JobStatus(view.status).is_terminal:
            raise CompatError(
                409,
                "job_not_finished",
                f"{reference} is still {view.status}; delete it once it has finished (deleting does not "
                "cancel it)",
            )
        with self.context.db.transaction() as session:
            job_data.delete_job_data(
                session, self.context.storage, self.caller.account_id, uuid.UUID(view.job_id)
            )
        return view

    def cancel(self, reference: str) -> CancelOutcome:
        job_id = uuid.UUID(self.get(reference).job_id)
        try:
            with self.context.db.transaction() as session:
                stop_upstream = jobs.cancel_job(
                    session, self.caller.account_id, job_id, self.context.settings
                )
        except JobNotCancellableError:
            if not JobStatus(self.get(str(job_id)).status).is_terminal:
                raise  # being submitted or stored: it cannot be stopped now
            return CancelOutcome.FINISHED
        if stop_upstream:
            provider = self.get(str(job_id)).provider
            self.context.dispatcher.send(messaging.cancel_task(provider), [str(job_id)])
        return CancelOutcome.CANCELLED

    def has_channel(self, provider: str) -> bool:
        return any(config.enabled for config in configured(self.context.settings, provider))

    def continue_job(self, reference: str, fields: Mapping[str, Any], *, field: str | None = None) -> JobView:
        waiting = self.get(reference, lookup=(Lookup.JOB_ID,), field=field)
        job_id = uuid.UUID(waiting.job_id)
        with self.context.db.transaction() as session:
            jobs.continue_job(session, self.caller.account_id, job_id, dict(fields), self.context.settings)
        self.context.dispatcher.send(messaging.submit_task(waiting.provider), [str(job_id)])
        return self.get(str(job_id))

    def webhook_secret(self) -> str:
        with self.context.db.transaction() as session:
            return webhook_secrets.live_secrets(session, self.caller.account_id)[0].secret


def _with_outputs(session: Session, query: Select[Job]) -> dict[uuid.UUID, tuple[Job, list[JobOutput]]]:
    """The jobs `query` finds, in its order, each with its stored outputs."""
    found: dict[uuid.UUID, tuple[Job, list[JobOutput]]] = {
        job.job_id: (job, []) for job in session.execute(query).scalars()
    }
    if found:
        for output in session.execute(select(JobOutput).where(JobOutput.job_id.in_(found))).scalars():
            found[output.job_id][1].append(output)
    return found
