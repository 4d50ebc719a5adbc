"""RabbitMQ for the tests: a vhost of this test session's own on the local broker, emptied before each
test, and a private RabbitMQ node that a test may restart.

The local broker is `TEST_AMQP_URL` (default guest on 127.0.0.1:5672); vhosts are made with
`rabbitmqctl`, which must run on the broker's host. Without either, the tests that need them are
skipped locally and fail under CI=true, as with the other services.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from kombu.connection import Connection

from orchestrator import messaging
from tests import services

BASE_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672")
CTL_TIMEOUT_S = 60


def _ctl(*args: str, node: str | None = None) -> None:
    command = ["rabbitmqctl", *(["-n", node] if node else []), *args]
    subprocess.run(command, check=True, capture_output=True, timeout=CTL_TIMEOUT_S)


def reachable(url: str) -> bool:
    try:
        with Connection(url, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception:  # reachable or not
        return False
    return True


def session_vhost(name: str) -> str:
    """A new, empty vhost `name` on the local broker that guest may use; its amqp:// URL."""
    if shutil.which("rabbitmqctl") is None or not reachable(f"{BASE_URL}//"):
        services.unavailable(f"no RabbitMQ at {BASE_URL} with rabbitmqctl on this host")
    if _vhost_exists(name):  # left by a session that was killed
        _ctl("delete_vhost", name)
    _ctl("add_vhost", name)
    _ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    return f"{BASE_URL}/{name}"


def _vhost_exists(name: str) -> bool:
    listed = subprocess.run(
        ["rabbitmqctl", "list_vhosts", "--quiet", "--no-table-headers"],
        check=True,
        capture_output=True,
        text=True,
        timeout=CTL_TIMEOUT_S,
    )
    return name in listed.stdout.split()


def drop_vhost(name: str) -> None:
    _ctl("delete_vhost", name)


def purge(url: str) -> None:
    """Empty every genrelay queue of the vhost (those not declared yet are skipped)."""
    with Connection(url, connect_timeout=5) as connection:
        for name in [*messaging.all_queues(), messaging.DEAD_LETTERS]:
            channel = connection.channel()
            try:
                channel.queue_purge(name)
            except connection.channel_errors:  # NOT_FOUND closes the channel: nothing to purge
                continue
            channel.close()


class RabbitNode:
    """A RabbitMQ node of a test's own on a free port, its data in a new folder under the system's
    temporary one (the server runs as the rabbitmq user, which cannot enter pytest's private folders);
    `restart` stops it and starts it again on the same data (durable queues and their messages
    survive, as on a real host); `remove` stops it and deletes its data."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="genrelay-rabbitmq-"))
        self.root.chmod(0o755)
        self.port = services.free_port()
        self.name = f"genrelay-test-{self.port}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> RabbitNode:
        if shutil.which("rabbitmq-server") is None:
            services.unavailable("rabbitmq-server is not installed")
        for folder in ("mnesia", "log"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        (self.root / "node.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\nloopback_users = none\n", encoding="utf-8"
        )
        (self.root / "plugins").write_text("[].\n", encoding="utf-8")
        if os.geteuid() == 0:  # the server script drops to the rabbitmq user, which must write here
            subprocess.run(["chown", "-R", "rabbitmq", str(self.root)], check=True)
        env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_DIST_PORT": str(services.free_port()),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(self.root / "feature_flags"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.root / "node.conf"),
        }
        with (self.root / "server.out").open("ab") as out:
            self._process = subprocess.Popen(
                ["rabbitmq-server"], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        services.wait_until(
            lambda: self._process is not None and (self._process.poll() is not None or reachable(self.url)),
            timeout=120,
            interval=0.2,
            message=lambda: (self.root / "server.out").read_text(errors="replace")[-3000:],
        )
        if self._process.poll() is not None:
            raise RuntimeError((self.root / "server.out").read_text(errors="replace")[-3000:])
        return self

    def stop(self) -> None:
        """Stop the node as its service manager would (`rabbitmqctl stop`), killing it if that fails."""
        if self._process is None or self._process.poll() is not None:
            return
        try:
            _ctl("stop", node=self.name)
            self._process.wait(timeout=60)
        except (subprocess.SubprocessError, OSError):
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
