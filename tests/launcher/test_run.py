"""`make run` end to end: scripts/run.py starts every part for real and Ctrl-C stops all of it.

These run the real services, migrations and nats-server on free ports, with
databases and NATS storage under the test's tmp_path, so they can run next to
a developer's own `make run`.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

import pytest

from tests.support.nats import NatsServer, nats_server_binary

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_SCRIPT = REPO_ROOT / "scripts" / "run.py"
PARTS = ("gateway", "enrolment", "matching", "scheduling", "analytics")
SERVICES = PARTS[1:]
BANNER_END = "Ctrl-C stops everything."
# Restart quickly in tests; the defaults (1 s doubling to 30 s) would make them slow.
QUICK_RESTARTS = {
    "UPWARD_RESTART_DELAY_SECONDS": "0.2",
    "UPWARD_RESTART_MAX_DELAY_SECONDS": "0.4",
}
# The launcher gives the parts 60 s to become healthy, after the migrations.
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 20.0


def nats_server_missing() -> bool:
    try:
        nats_server_binary()
    except RuntimeError:
        return True
    return False


needs_nats_server = pytest.mark.skipif(nats_server_missing(), reason="nats-server is not installed")


def free_ports(count: int) -> list[int]:
    # All sockets stay bound until every port is chosen, so the ports differ.
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def banner_pids(output: str) -> dict[str, int]:
    """The PIDs line of the launcher's banner: part name -> PID."""
    match = re.search(r"^\s*PIDs\s+(.+)$", output, re.MULTILINE)
    assert match, f"no PIDs line in the banner:\n{output}"
    pids = {}
    for entry in match.group(1).split(","):
        name, pid = entry.split()
        pids[name] = int(pid)
    return pids


def is_alive(pid: int) -> bool:
    """True when pid runs and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_until(condition: Callable[[], bool], timeout: float, what: str, output: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            pytest.fail(f"{what} did not happen within {timeout:.0f} s:\n{output}")
        time.sleep(0.1)


def answers_healthz(port: int) -> bool:
    try:
        return http_status(f"http://127.0.0.1:{port}/healthz") == HTTPStatus.OK
    except OSError:
        return False


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def http_status(url: str) -> int:
    # No proxy: a developer's HTTP_PROXY must not intercept loopback requests.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5.0) as response:
        return int(response.status)


@dataclass
class Setup:
    """Free ports and a private var dir: what one launcher run needs to be isolated."""

    tmp_path: Path
    ports: dict[str, int] = field(init=False)
    nats_port: int = field(init=False)

    def __post_init__(self) -> None:
        *part_ports, self.nats_port = free_ports(len(PARTS) + 1)
        self.ports = dict(zip(PARTS, part_ports, strict=True))

    @property
    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.nats_port}"

    @property
    def all_ports(self) -> list[int]:
        return [*self.ports.values(), self.nats_port]

    def env(self, **overrides: str) -> dict[str, str]:
        env = dict(os.environ)
        for part, port in self.ports.items():
            env[f"{part.upper()}_PORT"] = str(port)
        for service in SERVICES:
            env[f"{service.upper()}_DATABASE_URL"] = sqlite_url(self.tmp_path / f"{service}.db")
        env["NATS_URL"] = self.nats_url
        env["UPWARD_VAR_DIR"] = str(self.tmp_path / "var")
        env.update(overrides)
        return env


class Launch:
    """A running scripts/run.py whose output is collected line by line as it comes."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(RUN_SCRIPT)],
            cwd=REPO_ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        self._lines: list[str] = []
        self._eof = False
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self._lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._eof = True
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self._lines)

    def wait_for(self, text: str, timeout: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._eof or text in "\n".join(self._lines), timeout)
        if text in self.output:
            return
        if self.process.poll() is not None:
            pytest.fail(
                f"the launcher exited ({self.process.returncode}) before {text!r}:\n{self.output}"
            )
        pytest.fail(f"no {text!r} from the launcher within {timeout:.0f} s:\n{self.output}")

    def wait(self, timeout: float) -> int:
        """The exit code, once the process has ended and all its output is read."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the launcher did not exit within {timeout:.0f} s:\n{self.output}")
        with self._changed:
            self._changed.wait_for(lambda: self._eof, timeout=5.0)
        return code


@contextmanager
def launched(env: Mapping[str, str]) -> Iterator[Launch]:
    launch = Launch(env)
    try:
        yield launch
    finally:
        # A failed test must not leave a platform running: SIGTERM makes the
        # launcher stop what it started, SIGKILL is the last resort.
        if launch.process.poll() is None:
            launch.process.terminate()
            try:
                launch.process.wait(timeout=STOP_TIMEOUT_S + 5)
            except subprocess.TimeoutExpired:
                launch.process.kill()
                launch.process.wait()


@needs_nats_server
def test_make_run_starts_every_part_and_ctrl_c_stops_them_all(tmp_path: Path) -> None:
    setup = Setup(tmp_path)

    with launched(setup.env()) as launch:
        launch.wait_for(BANNER_END, timeout=START_TIMEOUT_S)

        gateway = f"http://127.0.0.1:{setup.ports['gateway']}"
        assert http_status(f"{gateway}/healthz") == HTTPStatus.OK
        assert f"{gateway}/graphql" in launch.output
        assert "make token ROLE=hr_admin" in launch.output
        assert "Start-up took" in launch.output
        # Nothing answered on the NATS port, so the launcher started its own there.
        assert accepts_connections(setup.nats_port)
        assert (tmp_path / "var" / "nats-server.log").exists()

        launch.process.send_signal(signal.SIGINT)
        assert launch.wait(timeout=STOP_TIMEOUT_S) == 0, launch.output

    still_listening = [port for port in setup.all_ports if accepts_connections(port)]
    assert still_listening == [], f"ports still accept connections after Ctrl-C:\n{launch.output}"


@needs_nats_server
def test_a_nats_server_it_did_not_start_is_left_running(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    setup = Setup(tmp_path)
    setup.nats_port = nats_server.port

    with launched(setup.env()) as launch:
        launch.wait_for(BANNER_END, timeout=START_TIMEOUT_S)
        assert f"{setup.nats_url} (already running" in launch.output
        launch.process.send_signal(signal.SIGINT)
        assert launch.wait(timeout=STOP_TIMEOUT_S) == 0, launch.output

    assert nats_server.process is not None
    assert nats_server.process.poll() is None, "the launcher stopped a NATS it did not start"
    assert accepts_connections(setup.nats_port)
    assert [port for port in setup.ports.values() if accepts_connections(port)] == []


@needs_nats_server
def test_a_failed_migration_stops_start_up_and_names_the_service(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    # A database "directory" that is a file: no migration tool can create or open that.
    (tmp_path / "a-file").write_text("not a directory")
    unopenable = sqlite_url(tmp_path / "a-file" / "enrolment.db")

    with launched(setup.env(ENROLMENT_DATABASE_URL=unopenable)) as launch:
        code = launch.wait(timeout=START_TIMEOUT_S)

    assert code != 0
    assert "Migrating failed: enrolment" in launch.output
    assert BANNER_END not in launch.output
    # The nats-server it had started is gone too, and no part was started.
    assert [port for port in setup.all_ports if accepts_connections(port)] == []


def test_a_taken_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", setup.ports["gateway"]))
        squatter.listen()

        with launched(setup.env()) as launch:
            code = launch.wait(timeout=STOP_TIMEOUT_S)

        assert code != 0
        assert f"Port {setup.ports['gateway']} for gateway is already in use" in launch.output
        assert "GATEWAY_PORT" in launch.output
        assert not accepts_connections(setup.nats_port)


@needs_nats_server
def test_a_part_that_dies_is_restarted_and_the_others_keep_running(tmp_path: Path) -> None:
    setup = Setup(tmp_path)

    with launched(setup.env(**QUICK_RESTARTS)) as launch:
        launch.wait_for(BANNER_END, timeout=START_TIMEOUT_S)
        before = banner_pids(launch.output)
        assert set(before) == {*PARTS, "nats"}

        os.kill(before["matching"], signal.SIGKILL)
        launch.wait_for("matching was killed by SIGKILL", timeout=STOP_TIMEOUT_S)
        assert "restarting it in 0.2 s" in launch.output
        assert "restart 1 of at most 5 within 300 s" in launch.output
        launch.wait_for("matching restarted (pid ", timeout=STOP_TIMEOUT_S)
        wait_until(
            lambda: answers_healthz(setup.ports["matching"]),
            START_TIMEOUT_S,
            "matching answering /healthz again",
            launch.output,
        )

        # The NATS server it started comes back the same way.
        os.kill(before["nats"], signal.SIGKILL)
        launch.wait_for("nats restarted (pid ", timeout=STOP_TIMEOUT_S)
        wait_until(
            lambda: accepts_connections(setup.nats_port),
            STOP_TIMEOUT_S,
            "nats accepting connections",
            launch.output,
        )

        untouched = [part for part in PARTS if part != "matching"]
        assert all(is_alive(before[part]) for part in untouched), launch.output
        for part in untouched:
            assert f"{part} restarted" not in launch.output
            assert answers_healthz(setup.ports[part])
        assert launch.process.poll() is None

        launch.process.send_signal(signal.SIGTERM)
        assert launch.wait(timeout=STOP_TIMEOUT_S) == 0, launch.output

    assert [port for port in setup.all_ports if accepts_connections(port)] == []


@needs_nats_server
def test_a_part_that_keeps_failing_makes_the_launcher_give_up(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    env = setup.env(**QUICK_RESTARTS, UPWARD_RESTART_LIMIT="2")

    with launched(env) as launch, socket.socket() as squatter:
        launch.wait_for(BANNER_END, timeout=START_TIMEOUT_S)
        gateway_pid = banner_pids(launch.output)["gateway"]
        os.kill(gateway_pid, signal.SIGKILL)
        wait_until(
            lambda: not accepts_connections(setup.ports["gateway"]),
            STOP_TIMEOUT_S,
            "the gateway's port closing",
            launch.output,
        )
        # With its port taken, every restart of the gateway fails at once.
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", setup.ports["gateway"]))
        squatter.listen()

        code = launch.wait(timeout=START_TIMEOUT_S)

    assert code == 1, launch.output
    assert "restart 2 of at most 2" in launch.output, launch.output
    # uvicorn exits with 3 when its start-up fails.
    gave_up = r"gateway exited with code \d+ again after 2 restarts within 300 s"
    assert re.search(gave_up, launch.output), launch.output
    assert "keeps failing, so stopping everything" in launch.output
    others = [port for part, port in setup.ports.items() if part != "gateway"]
    assert [port for port in [*others, setup.nats_port] if accepts_connections(port)] == []
