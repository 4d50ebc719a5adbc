"""How genrelay logs: one JSON object per line (or plain text in dev) with secrets redacted, the
`logging` configuration the API, workers and beat apply, and records emitted once a transaction commits.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from orchestrator.settings import Settings

# What a record carries by itself; anything else on it came through `extra=` and is a field of ours.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}

# Defence in depth: callers log ids, but an exception text or an access line may still carry a
# credential, so these are masked in every line whatever its source.
_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<=://)([^:/@\s]*):[^@/\s]+@"), r"\1:***@"),  # user:password@ in URLs
    (
        re.compile(
            r"(?i)([?&][\w.-]*(?:signature|token|key|secret|credential|password|sig)[\w.-]*=)[^&\s\"']+"
        ),
        r"\1***",
    ),
    (re.compile(r"(/callbacks/[\w.-]+/)[^/?\s\"']+"), r"\1***"),  # the per-job callback token
    (re.compile(r"(?i)\b(bearer\s+)[^\s\"']+"), r"\1***"),
    (re.compile(r"\b(gr|sk|whsec)[_-][A-Za-z0-9_+/=-]{8,}"), r"\1_***"),  # API keys, webhook secrets
)


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", ...extra fields}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                line[name] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, default=str, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """`time level logger: message` for people reading a terminal, redacted the same way."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def logging_config(settings: Settings, level: int | str | None = None) -> dict[str, Any]:
    """A `logging.config.dictConfig` dict: everything to stderr in the configured format."""
    formatter = JsonFormatter if settings.effective_log_format == "json" else TextFormatter
    # uvicorn's own loggers would otherwise keep their handlers and bypass ours.
    quiet = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"genrelay": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "genrelay",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level or settings.log_level.upper()},
        "loggers": {
            "uvicorn": quiet,
            "uvicorn.error": quiet,
            "uvicorn.access": quiet,
            # httpx logs every request's URL at INFO, and result URLs can be capabilities themselves.
            "httpx": {"level": "WARNING"},
        },
    }


def configure(settings: Settings, level: int | str | None = None) -> None:
    import logging.config  # noqa: PLC0415 - only processes that own their logging need it

    logging.config.dictConfig(logging_config(settings, level))


_PENDING = "log_on_commit"


def on_commit(session: Session, logger: logging.Logger, message: str, **fields: Any) -> None:
    """Log `message` with `fields` once the session's transaction commits; never if it rolls back."""
    pending: list[tuple[logging.Logger, str, dict[str, Any]]] | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        event.listen(session, "after_commit", _emit)
        event.listen(session, "after_rollback", _forget)
    pending.append((logger, message, fields))


def _emit(session: Session) -> None:
    pending = session.info.get(_PENDING) or []
    for logger, message, fields in pending:
        logger.info(message, extra=fields)
    pending.clear()


def _forget(session: Session) -> None:
    session.info.get(_PENDING, []).clear()
