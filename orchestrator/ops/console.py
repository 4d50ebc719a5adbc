"""Flower, the operators' console over the Celery cluster: its command line and environment, from Settings.

Flower runs on our own Celery app (`workers.celery_app`), so it sees the same broker, key prefix and
transport options as the workers: its queue lengths read the prefixed Redis lists the workers consume,
or, on RabbitMQ, come from the management API (GENRELAY_FLOWER_BROKER_API).
"""

from __future__ import annotations

import hashlib
import hmac
import sys

from orchestrator.settings import Settings

CELERY_APP = "workers.celery_app"


def flower_argv(settings: Settings, python: str = sys.executable) -> list[str]:
    """`celery flower` with bounded memory and no persistence (Flower is a console, not a record)."""
    argv = [
        python,
        "-m",
        "celery",
        "-A",
        CELERY_APP,
        "flower",
        f"--address={settings.flower_host}",
        f"--port={settings.flower_port}",
        f"--max_tasks={settings.flower_max_tasks}",
        f"--purge_offline_workers={settings.flower_purge_offline_s}",
        "--persistent=False",
    ]
    if settings.flower_url_prefix:
        argv.append(f"--url_prefix={settings.flower_url_prefix}")
    return argv


def flower_env(settings: Settings) -> dict[str, str]:
    """Credentials go through the environment (Flower reads FLOWER_*), never the visible command line.

    Raises ValueError when no password is set outside dev, or one Flower cannot take.
    """
    env = {"FLOWER_COOKIE_SECRET": cookie_secret(settings)}
    if settings.flower_broker_api is not None:  # it carries the management user's password
        env["FLOWER_BROKER_API"] = settings.flower_broker_api.get_secret_value()
    if settings.flower_password is None:
        if settings.environment != "dev":
            raise ValueError("GENRELAY_FLOWER_PASSWORD must be set outside dev")
        return env
    password = settings.flower_password.get_secret_value()
    if not password or "," in password:
        # Flower splits FLOWER_BASIC_AUTH on commas (several user:password pairs).
        raise ValueError("GENRELAY_FLOWER_PASSWORD must be non-empty and contain no comma")
    env["FLOWER_BASIC_AUTH"] = f"{settings.flower_user}:{password}"
    return env


def cookie_secret(settings: Settings) -> str:
    """Stable across restarts and replicas: the configured one, else derived from the URL signing key."""
    if settings.flower_cookie_secret is not None:
        return settings.flower_cookie_secret.get_secret_value()
    key = settings.url_signing_key.get_secret_value().encode()
    return hmac.new(key, b"genrelay flower cookie secret", hashlib.sha256).hexdigest()
