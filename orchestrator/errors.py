"""Errors of genrelay's own domain. Each carries a stable `code` and the HTTP status it maps to.

OrchestratorError
 ├── NotFoundError
 │    ├── JobNotFoundError
 │    │    └── ParentJobNotFoundError   a follow-up's parent_job_id names no job of the account
 │    ├── AccountNotFoundError
 │    └── ApiKeyNotFoundError
 ├── AuthenticationError
 ├── ForbiddenError                 authenticated, or not, but not allowed here
 │    └── AdminDisabledError        no admin token is configured: the admin API is off
 ├── AccountDisabledError
 ├── RateLimitedError               too many requests per second, or too many unfinished jobs
 ├── InvalidRequestError            input that names a field a person can fix
 │    ├── UnknownProviderError
 │    ├── UnknownOperationError
 │    ├── UnpricedModelError
 │    └── InvalidInputError         the provider-specific input, with every field at fault
 ├── InsufficientCreditsError
 ├── IdempotencyConflictError       same key, different body
 ├── IdempotencyInFlightError       same key, first request still running
 ├── InvalidTransitionError         a state change the lifecycle table forbids
 ├── JobNotCancellableError
 ├── JobNotContinuableError         only a job waiting for input can be continued
 ├── ParentJobNotSucceededError     a follow-up's parent has not succeeded
 ├── JobFinishedError               an operator action on a job that already ended
 ├── LedgerError                    a money operation that would break an invariant
 └── SchemaNotCurrentError          database not migrated to this version
"""

from __future__ import annotations


class OrchestratorError(Exception):
    code = "error"
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFoundError(OrchestratorError):
    code = "not_found"
    http_status = 404


class JobNotFoundError(NotFoundError):
    code = "job_not_found"


class AccountNotFoundError(NotFoundError):
    code = "account_not_found"


class ApiKeyNotFoundError(NotFoundError):
    code = "api_key_not_found"


class AuthenticationError(OrchestratorError):
    code = "unauthenticated"
    http_status = 401


class ForbiddenError(OrchestratorError):
    code = "forbidden"
    http_status = 403


class AdminDisabledError(ForbiddenError):
    code = "admin_disabled"


class RateLimitedError(OrchestratorError):
    """Carries how long to wait, sent as `Retry-After` (whole seconds, at least 1)."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, retry_after_s)


class OpenJobsLimitError(RateLimitedError):
    """The account has as many unfinished jobs as its limit allows."""

    # No one knows when a job will finish; this is a sensible time to try again.
    RETRY_AFTER_S = 10

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"this account already has {limit} unfinished jobs, its limit; wait for some to finish "
            "(or ask the operator to raise the limit)",
            retry_after_s=self.RETRY_AFTER_S,
        )


class AccountDisabledError(OrchestratorError):
    code = "account_disabled"
    http_status = 403


class InvalidRequestError(OrchestratorError):
    code = "invalid_request"
    http_status = 422


class UnknownProviderError(InvalidRequestError):
    code = "unknown_provider"


class UnknownOperationError(InvalidRequestError):
    code = "unknown_operation"


class UnpricedModelError(InvalidRequestError):
    code = "model_not_available"


class InvalidInputError(InvalidRequestError):
    code = "invalid_input"

    def __init__(self, message: str, problems: list[tuple[str, str]]) -> None:
        super().__init__(message, field=problems[0][0] if problems else None)
        self.problems = problems


class InsufficientCreditsError(OrchestratorError):
    code = "insufficient_credits"
    http_status = 402


class KeyBudgetExceededError(OrchestratorError):
    code = "key_budget_exceeded"
    http_status = 402


class ProviderNotAllowedError(ForbiddenError):
    code = "provider_not_allowed"


class KeyLimitError(OrchestratorError):
    code = "key_limit_reached"
    http_status = 409


class IdempotencyConflictError(OrchestratorError):
    code = "idempotency_key_reused"
    http_status = 422


class IdempotencyInFlightError(OrchestratorError):
    code = "idempotency_key_in_flight"
    http_status = 409


class InvalidTransitionError(OrchestratorError):
    code = "invalid_transition"
    http_status = 409


class JobNotCancellableError(OrchestratorError):
    code = "job_not_cancellable"
    http_status = 409


class JobNotContinuableError(OrchestratorError):
    code = "job_not_continuable"
    http_status = 409


class JobFinishedError(OrchestratorError):
    code = "job_finished"
    http_status = 409


class JobNotFinishedError(OrchestratorError):
    code = "job_not_finished"
    http_status = 409


class LedgerError(OrchestratorError):
    code = "ledger_error"
    http_status = 409


class InvalidBatchError(InvalidInputError):
    code = "invalid_batch"


class ParentJobNotFoundError(JobNotFoundError):
    """A follow-up's `parent_job_id` names no job of this account."""

    code = "parent_job_not_found"


class ParentJobNotSucceededError(OrchestratorError):
    """A follow-up's parent job has not succeeded (yet, or at all): the same request may succeed later."""

    code = "parent_job_not_succeeded"
    http_status = 409


class BatchNotFoundError(NotFoundError):
    code = "batch_not_found"


class BatchNotCancellableError(OrchestratorError):
    code = "batch_not_cancellable"
    http_status = 409


class SchemaNotCurrentError(OrchestratorError):
    code = "schema_not_current"
    http_status = 503


class ServiceUnavailableError(OrchestratorError):
    """A service the request needs cannot be reached now (PostgreSQL restarting or failing over, its
    connections all taken); nothing was half done, and the same request may be sent again."""

    code = "unavailable"
    http_status = 503
    retry_after_s = 5
