"""Errors of genrelay's own domain. Each carries a stable `code` and the HTTP status it maps to.

OrchestratorError
 ├── NotFoundError
 │    ├── JobNotFoundError
 │    └── AccountNotFoundError
 ├── AuthenticationError
 ├── AccountDisabledError
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


class AuthenticationError(OrchestratorError):
    code = "unauthenticated"
    http_status = 401


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


class LedgerError(OrchestratorError):
    code = "ledger_error"
    http_status = 409


class SchemaNotCurrentError(OrchestratorError):
    code = "schema_not_current"
    http_status = 503
