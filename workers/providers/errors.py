"""What can go wrong talking to an upstream provider, and what each case obliges us to do.

ProviderError
 ├── ProviderUnavailableError   nothing was created upstream; retry later (or fail over)
 ├── ProviderRejectedError      the provider refused the task for good; fail it, release the hold
 ├── SubmitOutcomeUnknownError  the request left us and the answer was lost; reconcile, never resend
 └── InvalidCallbackError       a callback body we cannot read
"""

from __future__ import annotations


class ProviderError(Exception):
    """Base of every error a provider adapter raises."""


class ProviderUnavailableError(ProviderError):
    """Connect failure, rate limit or overload: the provider created nothing, so retrying is safe."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderRejectedError(ProviderError):
    """A definite refusal (bad input, moderation, unknown model): retrying the same input won't help.

    `code` is one of `schemas.failures.CATALOGUE`; `provider_code` and `provider_message` are the
    provider's own words for the refusal (Kling's numeric `code`, Ark's `error.code`), when it gave them.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        provider_code: str | int | None = None,
        provider_message: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.provider_code = None if provider_code is None else str(provider_code)
        self.provider_message = provider_message


class SubmitOutcomeUnknownError(ProviderError):
    """The submit was sent but its answer never arrived: an upstream task may exist and be billed."""


class InvalidCallbackError(ProviderError):
    """A callback body that is not the provider's task object."""
