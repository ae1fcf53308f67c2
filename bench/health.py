"""What /healthz and /readyz cost: requests/s and the app's CPU per call.

    .venv/bin/python -m bench.health [--seconds 10] [--clients 4] [--workers 1 --threads 4]

Starts the bench stack (slapd, Redis, SMTP sink, ``ent-idp serve``: bench/stack.py), then
asks each path as fast as ``--clients`` keep-alive connections allow (far more than a load
balancer's one call a second), and reads from /proc the CPU the gunicorn processes, slapd
and Redis spent meanwhile. /readyz probes the directory and Redis at most once a second per
worker (``ent_idp.core.health.FRESH_SECONDS``), whatever the call rate: slapd's and Redis'
share stays near zero. The load generator runs on the same cores: requests/s is a floor.
"""

from __future__ import annotations

import argparse
import http.client
import threading
import time

from .stack import Stack, cpu_seconds, log

PATHS = ("/healthz", "/readyz")


def hammer(port: int, path: str, seconds: float, clients: int) -> tuple[int, int]:
    """(answers, answers that were not 200) from ``clients`` threads for ``seconds``."""
    counts = [[0, 0] for _ in range(clients)]
    stop = time.monotonic() + seconds

    def client(mine: list[int]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < stop:
            conn.request("GET", path)
            answer = conn.getresponse()
            answer.read()
            mine[0] += 1
            mine[1] += answer.status != 200
        conn.close()

    threads = [threading.Thread(target=client, args=(mine,)) for mine in counts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(c[0] for c in counts), sum(c[1] for c in counts)


def measure(stack: Stack, path: str, seconds: float, clients: int) -> str:
    pids = stack.pids()
    roles = {
        "app": pids["gunicorn-master"] + pids["gunicorn-workers"],
        "slapd": pids.get("slapd", []),
        "redis": pids.get("redis", []),
    }
    hammer(stack.app_port, path, 1.0, clients)  # warm: connections, the first probe

    def cpu() -> dict[str, float]:
        return {role: sum(cpu_seconds(pid) for pid in found) for role, found in roles.items()}

    before = cpu()
    started = time.monotonic()
    calls, not_ok = hammer(stack.app_port, path, seconds, clients)
    elapsed = time.monotonic() - started
    after = cpu()
    per_call = {role: (after[role] - before[role]) / calls * 1e6 for role in roles}
    return (
        f"{path:9} {calls / elapsed:7.0f} requests/s  {not_ok} not 200  CPU per call: "
        + "  ".join(f"{role} {us:.0f} µs" for role, us in per_call.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    with Stack() as stack:
        stack.start_app(args.workers, args.threads)
        log(f"{args.clients} clients, {args.seconds:.0f} s a path")
        for path in PATHS:
            print(measure(stack, path, args.seconds, args.clients), flush=True)


if __name__ == "__main__":
    main()
