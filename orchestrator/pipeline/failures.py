"""Upstream text on its way out: every job's `error_message`, and any other text an upstream wrote
that reaches a tenant, an operator or a log line, passes through here, with secrets blanked out."""

from __future__ import annotations

from orchestrator import logs
from orchestrator.pipeline import channels
from orchestrator.settings import Settings

# `jobs.error_message` is TEXT; a tenant needs no more than this, and an upstream may send a page.
MAX_MESSAGE_CHARS = 500


def redacted(settings: Settings, text: str) -> str:
    """`text` without our upstream credentials (providers sometimes echo the key they were given)
    and, as a second line, without anything shaped like a secret (bearer tokens, `key=` parameters,
    `sk-`/`gr_`/`whsec_` keys, the callback token of a URL)."""
    return logs.redact(channels.redact(settings, text))


def failure_message(settings: Settings, text: str) -> str:
    """What a failed (or otherwise ended) job tells its tenant: `text` redacted, then cut to length
    (cutting first could leave the head of a key that redaction no longer recognises)."""
    return redacted(settings, text)[:MAX_MESSAGE_CHARS]
