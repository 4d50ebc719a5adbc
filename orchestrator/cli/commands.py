"""The `genrelay` command: run the system or one part of it, migrate, manage tenants, audit money."""

from __future__ import annotations

import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import click

from orchestrator.cli.document_commands import openapi
from orchestrator.cli.provider_commands import deploy, providers
from orchestrator.cli.serving import api, metrics
from orchestrator.settings import get_settings

if TYPE_CHECKING:
    from orchestrator.db import Database


def _db() -> Database:
    from orchestrator.db import open_database  # noqa: PLC0415 - keep `genrelay --help` instant

    return open_database(get_settings(), pool_size=1)


@click.group()
def main() -> None:
    """genrelay: durable media-generation jobs, charged only on success."""


main.add_command(providers)
main.add_command(deploy)
main.add_command(openapi)
main.add_command(api)
main.add_command(metrics)


@main.command()
@click.option(
    "--speed", default=0.05, show_default=True, help="Simulator time factor (1.0 = real latencies)."
)
@click.option("--demo/--no-demo", default=True, show_default=True, help="Run one job per provider at start.")
def run(speed: float, demo: bool) -> None:
    """Start it all: embedded PostgreSQL/Redis (unless set), simulator, API, worker, beat, Flower."""
    from orchestrator.cli.runner import run as run_all  # noqa: PLC0415

    sys.exit(run_all(get_settings(), speed, demo_jobs=demo))


CELERY = [sys.executable, "-m", "celery", "-A", "workers.celery_app"]


def _with_log_level(args: list[str]) -> list[str]:
    """Celery logs at WARNING unless told otherwise; the transition log is INFO."""
    if any(arg in {"-l", "--loglevel"} or arg.startswith(("-l", "--loglevel=")) for arg in args):
        return args
    return [*args, "--loglevel", get_settings().log_level.upper()]


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--queues", "-Q", default=None, help="Comma-separated queues (default: all of them).")
@click.pass_context
def worker(ctx: click.Context, queues: str | None) -> None:
    """Run a Celery worker; extra options go to `celery worker` (e.g. -c 4)."""
    import os  # noqa: PLC0415

    from orchestrator.cli.runner import worker_queues  # noqa: PLC0415

    argv = [*CELERY, "worker", "-Q", queues or worker_queues(), *_with_log_level(ctx.args)]
    os.execv(sys.executable, argv)  # noqa: S606


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def beat(ctx: click.Context) -> None:
    """Run the single beat scheduler that drives the sweep."""
    import os  # noqa: PLC0415

    os.execv(sys.executable, [*CELERY, "beat", *_with_log_level(ctx.args)])  # noqa: S606


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def flower(ctx: click.Context) -> None:
    """Run Flower on the broker (basic auth from GENRELAY_FLOWER_*); extra options go to Flower."""
    import os  # noqa: PLC0415

    from orchestrator.ops.console import flower_argv, flower_env  # noqa: PLC0415

    settings = get_settings()
    try:
        settings.require_broker_url()
        env = {**os.environ, **flower_env(settings)}
    except (RuntimeError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    os.execve(sys.executable, [*flower_argv(settings), *ctx.args], env)  # noqa: S606


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8700, show_default=True)
@click.option("--speed", default=1.0, show_default=True, help="Time factor applied to upstream latencies.")
def simulator(host: str, port: int, speed: float) -> None:
    """Run the upstream simulator (all providers' wire formats)."""
    import os  # noqa: PLC0415

    os.execv(  # noqa: S606 - replaces this process with the simulator
        sys.executable,
        [
            sys.executable,
            "-m",
            "workers.simulator",
            "--host",
            host,
            "--port",
            str(port),
            "--speed",
            str(speed),
        ],
    )


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database to REVISION (default: the newest)."""
    from orchestrator.db import upgrade  # noqa: PLC0415

    upgrade(get_settings().require_database_url(), revision)
    click.echo(f"database upgraded to {revision}")


@db.command("current")
def db_current() -> None:
    """Show the schema revision of the database and the one this genrelay needs."""
    from orchestrator.db import current_revision, head_revision  # noqa: PLC0415

    database = _db()
    click.echo(f"database: {current_revision(database.engine) or 'empty'}; needed: {head_revision()}")


@main.group()
def ledger() -> None:
    """Credits and their audit."""


@ledger.command("check")
@click.option(
    "--grace-minutes",
    default=15,
    show_default=True,
    help="How long past its deadline a hold may stay open.",
)
def ledger_check(grace_minutes: int) -> None:
    """Verify the money invariants over the whole database; exit 1 on any breach."""
    from datetime import timedelta  # noqa: PLC0415

    from orchestrator.ops.audit import CHECKS, find_breaches  # noqa: PLC0415

    with _db().transaction() as session:
        breaches = find_breaches(session, stale_grace=timedelta(minutes=grace_minutes))
    for breach in breaches:
        click.echo(f"BREACH {breach.check}: {breach.subject}: {breach.detail}", err=True)
    if breaches:
        click.echo(f"ledger check failed: {len(breaches)} breach(es)", err=True)
        sys.exit(1)
    click.echo(f"ledger check passed: {len(CHECKS)} invariants hold")


@main.group()
def accounts() -> None:
    """Tenants, credits and API keys."""


@accounts.command("create")
@click.argument("name")
@click.option("--credits", "credits_", default="0", help="Credits to add, e.g. 100 or 12.5.")
@click.option("--multiplier", default="1", show_default=True, help="Price multiplier, e.g. 0.8.")
def accounts_create(name: str, credits_: str, multiplier: str) -> None:
    """Create an account and its first API key (printed once)."""
    from orchestrator import ledger as ledger_  # noqa: PLC0415
    from orchestrator.tenants import accounts as accounts_  # noqa: PLC0415

    with _db().transaction() as session:
        account_id = accounts_.create_account(session, name, price_multiplier=multiplier)
        micros = int(Decimal(credits_) * ledger_.MICROS_PER_CREDIT)
        if micros:
            ledger_.add_credits(session, account_id, micros, "initial credits")
        key = accounts_.issue_key(session, account_id, "default")
    click.echo(f"account {account_id}\napi key {key.secret}\n(the key is shown only now)")


@accounts.command("credit")
@click.argument("account_id")
@click.argument("credits_")
def accounts_credit(account_id: str, credits_: str) -> None:
    """Add CREDITS to ACCOUNT_ID."""
    import uuid  # noqa: PLC0415

    from orchestrator import ledger as ledger_  # noqa: PLC0415

    with _db().transaction() as session:
        ledger_.add_credits(
            session,
            uuid.UUID(account_id),
            int(Decimal(credits_) * ledger_.MICROS_PER_CREDIT),
            "cli",
        )
    click.echo(f"added {credits_} credits to {account_id}")


@accounts.command("revoke-key")
@click.argument("prefix")
def accounts_revoke_key(prefix: str) -> None:
    """Revoke the API key whose visible prefix is PREFIX (e.g. gr_1a2b3c4d)."""
    from orchestrator.tenants import accounts as accounts_  # noqa: PLC0415

    with _db().transaction() as session:
        revoked = accounts_.revoke_key(session, prefix)
    click.echo(f"revoked {prefix}" if revoked else f"no live key {prefix}")
    sys.exit(0 if revoked else 1)


@main.group()
def webhook() -> None:
    """Tenant webhooks."""


@webhook.command("verify")
@click.option("--secret", required=True, envvar="GENRELAY_WEBHOOK_SECRET", help="Your whsec_... secret.")
@click.option("--id", "message_id", required=True, help="The webhook-id header.")
@click.option("--timestamp", required=True, help="The webhook-timestamp header.")
@click.option("--signature", required=True, help="The webhook-signature header.")
@click.argument("body", type=click.File("rb"), default="-")
def webhook_verify(secret: str, message_id: str, timestamp: str, signature: str, body: BinaryIO) -> None:
    """Check a webhook the way a receiver should: BODY is the raw request body (default: stdin)."""
    from standardwebhooks import Webhook  # noqa: PLC0415
    from standardwebhooks.webhooks import WebhookVerificationError  # noqa: PLC0415

    headers = {"webhook-id": message_id, "webhook-timestamp": timestamp, "webhook-signature": signature}
    try:
        Webhook(secret).verify(body.read(), headers)
    except WebhookVerificationError as exc:
        click.echo(f"invalid: {exc}", err=True)
        sys.exit(1)
    click.echo("valid: the body was signed with this secret and is fresh")


@main.command("settings")
def settings_table() -> None:
    """Print every setting: its environment variable, default and meaning (a Markdown table)."""
    from orchestrator.settings import describe  # noqa: PLC0415

    click.echo("| variable | default | meaning |\n|---|---|---|")
    for env, default, meaning in describe():
        shown = f"`{default}`" if default else "unset"
        click.echo(f"| `{env}` | {shown} | {meaning} |")


@main.command()
def prices() -> None:
    """Validate the price files and list what they price."""
    from orchestrator.pricing import load_price_table  # noqa: PLC0415

    path = get_settings().prices_path
    try:
        table = load_price_table(path)
    except ValueError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    source = path or "each provider's own price file"
    click.echo(f"{source}: valid")
    for provider, operation, model in table.keys():  # noqa: SIM118 - PriceTable.keys(), not a dict
        click.echo(f"  {provider} {operation} {model}")


def _client_options(command: Callable[..., None]) -> Callable[..., None]:
    """--url and --key: how the client commands reach a running genrelay as a tenant."""
    command = click.option(
        "--key",
        "api_key",
        envvar="GENRELAY_API_KEY",
        show_envvar=True,
        default=None,
        help="Your API key (prefer the environment variable: it stays out of `ps`). Never printed.",
    )(command)
    return click.option(
        "--url",
        envvar="GENRELAY_URL",
        show_envvar=True,
        default="http://127.0.0.1:8000",
        show_default=True,
        help="Base URL of the running genrelay API.",
    )(command)


def _require_key(api_key: str | None) -> str:
    if not api_key:
        raise click.UsageError("no API key: pass --key or set GENRELAY_API_KEY")
    return api_key


@main.group()
def batch() -> None:
    """Batch production: many jobs from a JSONL file, against a running genrelay."""


@batch.command("run")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The batch folder: downloaded files, manifest.jsonl, batch.json. Re-run into it to resume.",
)
@click.option(
    "--concurrency", default=8, show_default=True, type=click.IntRange(1, 256), help="Jobs in flight."
)
@click.option("--retry-failed", is_flag=True, help="Resubmit lines whose job failed, as new jobs.")
@click.option(
    "--server",
    is_flag=True,
    help="Send the lines as one genrelay batch (POST /v1/batches) that genrelay runs itself; then "
    "follow it and download its results.",
)
@click.option(
    "--batch-id",
    default=None,
    help="Reuse this batch identity (printed at every start), e.g. after losing --out.",
)
@_client_options
def batch_run(
    file: Path,
    out: Path,
    concurrency: int,
    retry_failed: bool,
    server: bool,
    batch_id: str | None,
    url: str,
    api_key: str | None,
) -> None:
    """Submit one job per line of FILE (JSONL of `POST /v1/jobs` bodies, optional "id"), follow them,
    download every output into --out. Exit 0 when every line is done, 1 when some are not."""
    from orchestrator.cli.batch import (  # noqa: PLC0415
        BatchFileError,
        BatchFolderError,
        BatchOptions,
        BatchSetupError,
        Connection,
        run_batch,
    )

    options = BatchOptions(
        concurrency=concurrency, retry_failed=retry_failed, batch_id=batch_id, server=server
    )
    try:
        code = run_batch(file, out, Connection(url, _require_key(api_key)), options)
    except (BatchFileError, BatchFolderError, BatchSetupError) as exc:
        raise click.UsageError(str(exc)) from None
    sys.exit(code)


@main.group()
def jobs() -> None:
    """Your jobs on a running genrelay."""


@jobs.command("watch")
@click.argument("job_id")
@click.option(
    "--interval", default=1.0, show_default=True, type=click.FloatRange(0.05), help="Seconds between polls."
)
@_client_options
def jobs_watch(job_id: str, interval: float, url: str, api_key: str | None) -> None:
    """Follow JOB_ID's timeline live until it ends, then print its outputs or its error.
    Exit 0 if it succeeded, 1 otherwise."""
    from orchestrator.cli.watching import watch_job  # noqa: PLC0415

    sys.exit(watch_job(url, _require_key(api_key), job_id, interval))


if __name__ == "__main__":
    main()
