"""Several hosts on one machine: network namespaces joined by a bridge, each with its own address, as
separate machines on one network. Needs root and iproute2; everything it makes carries this process's
id in its name and is removed on exit. Traffic stays on the bridge it made.

    bridge gr<pid>  (the host side: PostgreSQL through PgBouncer, the broker, the simulator)
      ├── veth ─ namespace gr<pid>-1  (API, a worker, beat)
      ├── veth ─ namespace gr<pid>-2  (a worker)
      └── veth ─ namespace gr<pid>-3  (a worker)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests import services


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def can_make_namespaces() -> str | None:
    """Why this machine cannot run the hosts test, or None when it can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    probe = f"grprobe{os.getpid() % 100000}"
    try:
        ip("netns", "add", probe)
        ip("netns", "delete", probe)
    except (subprocess.SubprocessError, OSError) as exc:
        return f"`ip netns add` failed: {exc}"
    return None


@dataclass
class Host:
    """One namespace: its name, its address on the bridge, the host-side end of its link, and the
    processes started in it."""

    name: str
    address: str
    link: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, argv: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
        """Run `argv` inside this namespace, logging to `log_path`."""
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                ["ip", "netns", "exec", self.name, *argv],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def pids(self) -> list[int]:
        listed = subprocess.run(
            ["ip", "netns", "pids", self.name], capture_output=True, text=True, check=False, timeout=30
        )
        return [int(pid) for pid in listed.stdout.split()]

    def kill_everything(self) -> int:
        """SIGKILL every process in the namespace at once, as a host losing power; how many there were."""
        pids = self.pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for process in self.processes:
            process.wait(timeout=30)
        return len(pids)

    def cut(self) -> None:
        """Take the host's link down: its packets go nowhere, its connections hang (no reset)."""
        ip("link", "set", self.link, "down")

    def mend(self) -> None:
        ip("link", "set", self.link, "up")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@dataclass
class Network:
    """The bridge, its address on the host side, and the hosts on it."""

    bridge: str
    gateway: str
    hosts: list[Host]


@contextmanager
def network(count: int) -> Iterator[Network]:
    """`count` namespaces on a new bridge in a /24 of 10.213.0.0/16 picked by this process's id."""
    why = can_make_namespaces()
    if why is not None:
        services.unavailable(f"the hosts test cannot run here: {why}")
    tag = f"gr{os.getpid() % 100000}"
    subnet = f"10.213.{os.getpid() % 250 + 1}"
    gateway = f"{subnet}.1"
    bridge = tag
    made: list[str] = []
    hosts: list[Host] = []
    try:
        ip("link", "add", bridge, "type", "bridge")
        made.append(bridge)
        ip("addr", "add", f"{gateway}/24", "dev", bridge)
        ip("link", "set", bridge, "up")
        for number in range(1, count + 1):
            name, outside, inside = f"{tag}-{number}", f"{tag}h{number}", f"{tag}n{number}"
            ip("netns", "add", name)
            hosts.append(Host(name, f"{subnet}.{10 + number}", outside))
            ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            made.append(outside)
            ip("link", "set", outside, "master", bridge)
            ip("link", "set", outside, "up")
            ip("link", "set", inside, "netns", name)
            ip("-n", name, "addr", "add", f"{subnet}.{10 + number}/24", "dev", inside)
            ip("-n", name, "link", "set", inside, "up")
            ip("-n", name, "link", "set", "lo", "up")
        yield Network(bridge, gateway, hosts)
    finally:
        for host in hosts:
            host.stop()
            with contextlib.suppress(subprocess.SubprocessError):
                ip("netns", "delete", host.name)
        for link in reversed(made):
            with contextlib.suppress(subprocess.SubprocessError):
                ip("link", "delete", link)
