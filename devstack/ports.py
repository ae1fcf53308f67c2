"""Ports and child processes of the services started by the tests and the demo."""

from __future__ import annotations

import socket
import subprocess


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_port_free(port: int, what: str) -> None:
    """Refuse to start on a taken port: a readiness probe would find someone else's server."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise RuntimeError(
                f"{what}: port {port} on 127.0.0.1 is already in use ({exc}); "
                "stop what listens there or choose another port"
            ) from None


def wait_for_port(host: str, port: int, deadline: float, what: str, process=None) -> None:
    """Poll until ``host:port`` accepts connections, or raise once ``deadline`` passed."""
    import time

    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited at start-up (status {process.returncode})")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not listen on {host}:{port} in time") from None
            time.sleep(0.05)


def terminate(process: subprocess.Popen | None, timeout: float = 10) -> None:
    """SIGTERM (services flush their data on it), then SIGKILL if it lingers."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
