"""A throw-away redis-server for tests and the demo; its data survives stop()/start()."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from .ports import terminate

FIX_HINT = "run devstack/install-system-deps.sh (Debian: apt-get install redis-server)"


class RedisServer:
    def __init__(self, workdir: Path, port: int, extra_args: tuple[str, ...] = ()):
        """``extra_args``: more redis-server options (devstack/redis_cluster.py: passwords,
        replicaof)."""
        self.workdir = Path(workdir)
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.extra_args = tuple(extra_args)
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 20) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            raise RuntimeError(f"redis-server not found: {FIX_HINT}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        with (self.workdir / "redis.log").open("ab") as log:
            self._process = self._spawn(binary, log)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            self._wait_ready(client, time.monotonic() + timeout)
        finally:
            client.close()

    def _wait_ready(self, client: redis.Redis, deadline: float) -> None:
        assert self._process is not None
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited at start-up; see {self.workdir / 'redis.log'}"
                )
            try:
                if client.ping():
                    return
            except redis.exceptions.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer on port {self.port} in time")
            time.sleep(0.05)

    def _spawn(self, binary: str, log) -> subprocess.Popen:
        return subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.workdir),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
                *self.extra_args,
            ],
            stdout=log,
            stderr=log,
        )

    def stop(self) -> None:
        terminate(self._process)
        self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()
