"""Why a job ended, on its way out: every job's `error_code` is one of `schemas.failures` (a code a
provider reports outside it is mapped here, with a warning), and `error_message`, the provider's own
words and any other text an upstream wrote that reaches a tenant, an operator or a log line, pass
through here with secrets blanked out."""

from __future__ import annotations

import logging
from typing import Any

from orchestrator import logs
from orchestrator.pipeline import channels
from orchestrator.settings import Settings
from schemas import failures

log = logging.getLogger(__name__)

# `jobs.error_message` is TEXT; a tenant needs no more than this, and an upstream may send a page.
MAX_MESSAGE_CHARS = 500
# A provider's own failure code is an identifier (a number, `SAFETY.INPUT.TEXT`), never a page.
MAX_PROVIDER_CODE_CHARS = 64


def redacted(settings: Settings, text: str) -> str:
    """`text` without our upstream credentials (providers sometimes echo the key they were given)
    and, as a second line, without anything shaped like a secret (bearer tokens, `key=` parameters,
    `sk-`/`gr_`/`whsec_` keys, the callback token of a URL)."""
    return logs.redact(channels.redact(settings, text))


def failure_message(settings: Settings, text: str) -> str:
    """What a failed (or otherwise ended) job tells its tenant: `text` redacted, then cut to length
    (cutting first could leave the head of a key that redaction no longer recognises)."""
    return redacted(settings, text)[:MAX_MESSAGE_CHARS]


def catalogued(code: str | None, fallback: str, *, source: str) -> str:
    """`code` if the catalogue has it, else `fallback` (a catalogued code for the same kind of ending):
    a plugin that reports a code of its own must not hand it to tenants as if it were documented."""
    if failures.is_known(code):
        return str(code)
    if code is not None:
        log.warning("%s reported error code %r, not catalogued: the job ends %s", source, code, fallback)
    return fallback


def failure_columns(
    settings: Settings,
    code: str,
    message: str,
    *,
    provider_code: str | None = None,
    provider_message: str | None = None,
) -> dict[str, Any]:
    """The job's columns for an ending without a result: our code, our message, and the provider's own
    code and message (redacted and cut to length) when it gave either."""
    upstream: dict[str, str] = {}
    if provider_code:
        upstream["code"] = redacted(settings, provider_code)[:MAX_PROVIDER_CODE_CHARS]
    if provider_message:
        upstream["message"] = failure_message(settings, provider_message)
    return {
        "error_code": code,
        "error_message": failure_message(settings, message),
        "provider_error": upstream or None,
    }
