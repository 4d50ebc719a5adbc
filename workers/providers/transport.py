"""Translation of httpx's transport errors into ProviderErrors, by the phase of the exchange.

A failure before the request could reach the provider proves nothing was created; one after the
request was written may have created a task, which matters only when submitting.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum

import httpx

from workers.providers.errors import ProviderUnavailableError, SubmitOutcomeUnknownError

# Raised before a single byte of the request reached the provider.
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
    httpx.ProxyError,
    httpx.LocalProtocolError,
)
# Raised once the request may have been (partly) delivered.
MAYBE_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
    httpx.CloseError,
)
# Answers that say "not now" before the provider accepted anything.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 503})
# Answers from a gateway in front of the provider after the request was sent.
AMBIGUOUS_STATUSES = frozenset({500, 502, 504, 520, 522, 524})


class Phase(Enum):
    SUBMIT = "submit"
    QUERY = "query"


def retry_after_seconds(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds, when the provider sent it as a number."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


@contextmanager
def translate_transport_errors(phase: Phase, provider: str) -> Iterator[None]:
    """Re-raise httpx transport errors as the ProviderError their phase implies."""
    try:
        yield
    except NOT_SENT_ERRORS as exc:
        raise ProviderUnavailableError(
            f"{provider}: could not reach upstream ({type(exc).__name__})"
        ) from exc
    except MAYBE_SENT_ERRORS as exc:
        if phase is Phase.SUBMIT:
            raise SubmitOutcomeUnknownError(
                f"{provider}: submit sent but its answer was lost ({type(exc).__name__})"
            ) from exc
        raise ProviderUnavailableError(f"{provider}: query failed ({type(exc).__name__})") from exc


def raise_for_transient_status(response: httpx.Response, phase: Phase, provider: str) -> None:
    """Raise for HTTP statuses that say nothing about the task itself (rate limits, gateways)."""
    status = response.status_code
    if status in RETRYABLE_STATUSES:
        raise ProviderUnavailableError(
            f"{provider}: upstream answered HTTP {status}",
            retry_after=retry_after_seconds(response),
        )
    if status in AMBIGUOUS_STATUSES or status >= 500:
        if phase is Phase.SUBMIT:
            raise SubmitOutcomeUnknownError(
                f"{provider}: upstream answered HTTP {status} after the submit was sent"
            )
        raise ProviderUnavailableError(f"{provider}: upstream answered HTTP {status}")
