"""PgBouncer (Debian's package) in transaction pooling mode in front of the tests' PostgreSQL: each
transaction of a client may run on another server connection, as in production behind it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from tests import services

# The server connections PgBouncer keeps per database and user: fewer than the clients' pooled
# connections, so transactions really do move between server connections.
SERVER_POOL_SIZE = 8


class PgBouncer:
    """A pgbouncer process of the test session's own on a free port of `listen_addr`, in front of
    `upstream_url`; each database of `session_databases` also answers as `<name>_session` in session
    pooling mode, for a connection that must keep its server session (LISTEN). With
    `idle_transaction_timeout_s`, a client that stops halfway through a transaction (its host cut off)
    is disconnected after that long, its transaction rolled back and its row locks freed."""

    def __init__(
        self,
        upstream_url: str,
        listen_addr: str = "127.0.0.1",
        session_databases: tuple[str, ...] = (),
        idle_transaction_timeout_s: float | None = None,
    ) -> None:
        if shutil.which("pgbouncer") is None:
            services.unavailable("pgbouncer is not installed (Debian's package pgbouncer)")
        upstream = urlparse(upstream_url)
        socket_dir = parse_qs(upstream.query).get("host", [None])[0]
        self.user = upstream.username or "postgres"
        self.port = services.free_port()
        self.root = Path(tempfile.mkdtemp(prefix="genrelay-pgbouncer-"))
        self.root.chmod(0o755)  # pgbouncer drops to the postgres user when started as root
        host = socket_dir or upstream.hostname or "127.0.0.1"
        self.listen_addr = listen_addr
        server = f"host={host} port={upstream.port or 5432}"
        sessions = [
            f"{name}_session = {server} dbname={name} pool_mode=session" for name in session_databases
        ]
        (self.root / "users.txt").write_text(f'"{self.user}" ""\n', encoding="utf-8")
        (self.root / "pgbouncer.ini").write_text(
            "\n".join(
                [
                    "[databases]",
                    *sessions,
                    f"* = {server}",
                    "[pgbouncer]",
                    f"listen_addr = {listen_addr}",
                    f"listen_port = {self.port}",
                    "unix_socket_dir =",
                    "auth_type = trust",
                    f"auth_file = {self.root / 'users.txt'}",
                    "pool_mode = transaction",
                    f"default_pool_size = {SERVER_POOL_SIZE}",
                    "max_client_conn = 1000",
                    *(
                        [f"idle_transaction_timeout = {idle_transaction_timeout_s:g}"]
                        if idle_transaction_timeout_s is not None
                        else []
                    ),
                    "",
                ]
            ),
            encoding="utf-8",
        )
        command = ["pgbouncer", *(["-u", "postgres"] if os.geteuid() == 0 else []), "pgbouncer.ini"]
        self._process = subprocess.Popen(
            command,
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        services.wait_until(self._listening, timeout=30, message=self._log)

    def _listening(self) -> bool:
        if self._process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited:\n{self._log()}")
        with socket.socket() as probe:
            return probe.connect_ex((self.listen_addr, self.port)) == 0

    def _log(self) -> str:
        path = self.root / "pgbouncer.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log yet)"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.listen_addr}:{self.port}/{database}"

    def stop(self) -> None:
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            self._process.wait(timeout=20)
        shutil.rmtree(self.root, ignore_errors=True)
