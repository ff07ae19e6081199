"""The platform's parts, each in a process of its own, as `make run` starts them.

`parts_running` starts a service or a gateway per name (uvicorn on a free 127.0.0.1
port, settings from a JSON file next to its log), waits until each one writes its
address, and stops every one of them by its process id at the end. A part's process
runs `python -m bench._parts serve <name> <directory>`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gateway.config import GatewaySettings
from gateway.main import create_app as create_gateway
from tests.support.stack import serve

SERVICES = ("enrolment", "matching", "scheduling", "analytics")
ROOT = Path(__file__).resolve().parents[1]


async def _serve_part(name: str, config: dict[str, Any], url_file: Path) -> None:
    """Serve one service or a gateway until SIGTERM; its address goes to `url_file`."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if name in SERVICES:
        definition = importlib.import_module(f"{name}.main").SERVICE
        app = definition.create_app(definition.settings_cls(**config["settings"]))
    else:
        app = create_gateway(GatewaySettings(**config["settings"]))
    async with serve(name, app) as running:
        if name in SERVICES:
            while not running.app.state.bus.is_connected:
                await asyncio.sleep(0.02)
        partial = url_file.with_suffix(".part")
        partial.write_text(running.url)
        partial.rename(url_file)
        await stop.wait()


@dataclasses.dataclass
class Parts:
    """Where each part answers, and its process id."""

    urls: dict[str, str]
    pids: dict[str, int]


def cpu_seconds(pid: int | None = None) -> float | None:
    """CPU time a process has used (user and system); None where /proc cannot tell."""
    if pid is None:
        return time.process_time()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # utime and stime, the 14th and 15th fields (the 12th and 13th after the name).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def parts_running(tmp: Path, configs: dict[str, dict[str, Any]]) -> Iterator[Parts]:
    """Start each part (name -> config) in its own process; stop them all at the end."""
    env = os.environ.copy()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    processes: dict[str, subprocess.Popen[bytes]] = {}
    urls: dict[str, str] = {}
    try:
        for name, config in configs.items():
            (tmp / f"{name}.json").write_text(json.dumps(config))
            with (tmp / f"{name}.log").open("wb") as log:
                processes[name] = subprocess.Popen(
                    [sys.executable, "-m", "bench._parts", "serve", name, str(tmp)],
                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        for name, process in processes.items():
            url_file = tmp / f"{name}.url"
            while not url_file.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    log_text = (tmp / f"{name}.log").read_text()[-4000:]
                    raise RuntimeError(f"{name} did not start:\n{log_text}")
                time.sleep(0.05)
            urls[name] = url_file.read_text()
        yield Parts(urls, {name: process.pid for name, process in processes.items()})
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


if __name__ == "__main__":
    if sys.argv[1:2] != ["serve"]:
        raise SystemExit("usage: python -m bench._parts serve <name> <directory>")
    part, directory = sys.argv[2], Path(sys.argv[3])
    asyncio.run(_serve_part(part, json.loads((directory / f"{part}.json").read_text()),
                            directory / f"{part}.url"))
