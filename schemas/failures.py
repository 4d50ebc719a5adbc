"""The closed set of `error.code`s a job can end with: each code, whether the same request sent again
could plausibly succeed (`retryable`), and what it means. Nothing else may end a job (see
`orchestrator.lifecycle` and `orchestrator.pipeline.failures`); the README's Failures table is this."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class FailureCode:
    code: str
    retryable: bool
    meaning: str


_CODES = (
    # Refused for good: the same request would be refused again.
    FailureCode(
        "moderation_blocked", False, "the provider's content moderation refused the input or the output"
    ),
    FailureCode(
        "invalid_input",
        False,
        "the input was refused as invalid, by genrelay before sending or by the provider",
    ),
    FailureCode(
        "unknown_model", False, "the provider does not know the model (or genrelay does not offer it there)"
    ),
    FailureCode("model_not_available", False, "the provider no longer serves the model"),
    FailureCode(
        "upstream_plan", False, "the model is not enabled on the upstream account's plan or endpoint"
    ),
    FailureCode(
        "upstream_rejected", False, "the provider refused the request without a reason genrelay can classify"
    ),
    FailureCode(
        "parent_channel_gone",
        False,
        "the upstream account that holds the parent task is no longer configured",
    ),
    FailureCode("not_supported", False, "the provider cannot do what was asked (look a task up, cancel it)"),
    FailureCode("cancel_refused", False, "the provider refused to stop the task"),
    # Ended by a person.
    FailureCode("cancelled", False, "cancelled at the client's request"),
    FailureCode("failed_by_operator", False, "ended by genrelay's operator"),
    # Worth sending again: the request was fine, the run was not.
    FailureCode(
        "upstream_failed",
        True,
        "the provider's task failed (a generation error, or a reason it did not name)",
    ),
    FailureCode("upstream_cancelled", True, "the task was cancelled upstream, not by this job's client"),
    FailureCode(
        "upstream_expired", True, "the provider gave the task up before it ran (its own queue deadline)"
    ),
    FailureCode("upstream_no_output", True, "the provider reported success but returned no result files"),
    FailureCode(
        "upstream_output_expired", True, "the provider deleted the results before genrelay could copy them"
    ),
    FailureCode(
        "upstream_unavailable",
        True,
        "the provider stayed unavailable (rate limits, outages) through every retry",
    ),
    FailureCode(
        "upstream_auth", True, "the upstream account's credentials were refused; an operator must fix them"
    ),
    FailureCode(
        "upstream_account",
        True,
        "the upstream account needs attention (e.g. verification) before it runs tasks",
    ),
    FailureCode("upstream_billing", True, "the upstream account is out of balance or in arrears"),
    FailureCode("upstream_quota", True, "the upstream account's usage limit or spending cap is reached"),
    FailureCode(
        "submit_unconfirmed",
        True,
        "the submit's answer was lost and the provider never confirmed the task by the deadline",
    ),
    FailureCode(
        "storage_failed",
        True,
        "the provider's result files could not be fetched into genrelay's storage, try after try",
    ),
    FailureCode("deadline_exceeded", True, "the job did not finish before its deadline"),
    FailureCode(
        "start_deadline_exceeded", True, "the provider had not accepted the job by its start deadline"
    ),
)
CATALOGUE: Mapping[str, FailureCode] = {entry.code: entry for entry in _CODES}


def is_known(code: str | None) -> bool:
    return code is not None and code in CATALOGUE


def retryable(code: str) -> bool:
    """Whether `code` is worth a new attempt; an unknown code (an older row) is not."""
    entry = CATALOGUE.get(code)
    return entry is not None and entry.retryable


def markdown_table() -> str:
    """The README's Failures table."""
    rows = [
        f"| `{entry.code}` | {'yes' if entry.retryable else 'no'} | {entry.meaning} |" for entry in _CODES
    ]
    return "\n".join(["| code | retryable | meaning |", "|---|---|---|", *rows])
