"""Where an activation's milliseconds go in the app: py-spy on every gunicorn worker.

    .venv/bin/pip install py-spy
    .venv/bin/python -m bench.profile [--seconds 30] [--users 16] [--workers N --threads M]

Runs the closed loop of ``make bench`` while ``py-spy record`` samples each worker (all
threads, idle ones excluded), then prints the samples per activation grouped by what they
were doing, each group's share applied to the workers' CPU as ``/proc`` counts it (py-spy
does not see all of it), and the hottest functions. The raw collapsed stacks stay in the
temp dir with ``--keep``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from . import product
from .run import env_int
from .stack import Stack, children_of, log

# (label, substring of a frame) -- the first match from the leaf upwards wins.
BUCKETS = [
    ("zxcvbn (password strength)", "zxcvbn"),
    ("jinja2 rendering", "jinja2"),
    ("ldap3", "ldap3/"),
    ("redis client", "redis/"),
    ("wtforms / flask_wtf (forms, CSRF)", "wtforms"),
    ("wtforms / flask_wtf (forms, CSRF)", "flask_wtf"),
    ("email_validator (DNS-free checks)", "email_validator"),
    ("itsdangerous (session cookie)", "itsdangerous"),
    ("logging (access log, audit)", "logging/"),
    ("gunicorn (HTTP parsing, I/O)", "gunicorn/"),
    ("werkzeug (routing, request, response)", "werkzeug/"),
    ("flask", "flask/"),
    ("ent_idp", "ent_idp/"),
]


def bucket(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for label, needle in BUCKETS:
            if needle in frame:
                return label
    return "other"


def main(argv: list[str] | None = None) -> int:
    cores = os.cpu_count() or 1
    p = argparse.ArgumentParser(prog="python -m bench.profile")
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--users", type=int, default=16)
    p.add_argument("--workers", type=int, default=env_int("BENCH_WORKERS", cores))
    p.add_argument("--threads", type=int, default=env_int("BENCH_THREADS", 4))
    p.add_argument("--rate", type=int, default=50, help="py-spy samples per second")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--gil", action="store_true", help="only samples holding the GIL (on-CPU)")
    p.add_argument("--floor", action="store_true", help="then the floor app (bench.floor)")
    a = p.parse_args(argv)
    with Stack(keep=a.keep) as stack:
        logins = [acc.login for acc in stack.create_accounts(int(100 * a.seconds))]
        try:
            app = stack.start_app(a.workers, a.threads)
            stack.start_mail_worker()
            report = spy(stack, app, logins, a, stack.app_url)
            stack.stop_child("app")
            stack.stop_child("mail-worker")
            print_report("the app", report, a, product.APP)
            if a.floor:
                floor = stack.start_floor(a.workers, a.threads, report[3]["page_bytes"])
                fake = [f"floor.u{i:06d}" for i in range(int(200 * a.seconds))]
                report = spy(stack, floor, fake, a, stack.floor_url)
                print_report("the floor app", report, a, product.FLOOR)
        finally:
            stack.stop_child("app")
            stack.stop_child("mail-worker")
            stack.stop_child("floor")
            stack.remove_accounts()
        if a.keep:
            log(f"kept {stack.base}")
    return 0


def spy(stack: Stack, server, logins: list[str], a, url: str) -> tuple:
    """py-spy on every worker of ``server`` while the closed loop drives ``url``."""
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    outs = []
    spies = []
    for pid in children_of(server.pid):
        out = stack.base / f"py-spy-{pid}.txt"
        outs.append(out)
        spies.append(
            subprocess.Popen(
                [pyspy, "record", "--pid", str(pid), "--format", "raw", "--rate",
                 str(a.rate), "--duration", str(int(a.seconds)), "--output", str(out),
                 "--gil" if a.gil else "--threads"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
    result: dict = {}
    spec = {"mode": "closed", "users": a.users, "seconds": a.seconds}
    thread = threading.Thread(
        target=lambda: result.update(product.drive(stack, logins, spec, url=url))
    )
    thread.start()
    for process in spies:
        process.wait(timeout=a.seconds + 60)
    thread.join()
    totals: Counter = Counter()
    functions: Counter = Counter()
    samples = 0
    for out in outs:
        if not out.exists():
            log(f"no py-spy output {out}")
            continue
        for line in out.read_text().splitlines():
            stack_text, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            samples += n
            totals[bucket(stack_text)] += n
            functions[stack_text.split(";")[-1]] += n
    return totals, functions, samples, result


def print_report(name: str, report: tuple, a, roles: tuple[str, ...]) -> None:
    """Each bucket's share of the samples, and that share of the workers' CPU as the kernel
    counted it (``/proc``): py-spy misses part of it (with ``--gil``, 20–45 % here), so
    its own milliseconds are shares of what it saw, not CPU."""
    totals, functions, samples, result = report
    done = result.get("activations", 0) or 1
    ms = 1000 / a.rate
    cpu = product.ms_per_activation(result, roles, done)
    print(f"\n== py-spy on {name}: {result.get('activations')} activations, {samples} samples "
          f"({ms:.0f} ms each) over {a.workers} worker(s)")  # fmt: skip
    heading = f"{'sampled ms':>11}{'share':>7}{'of CPU ms':>11}"
    print(f"  {'what (innermost matching frame)':<42}{heading}")
    for label, n in totals.most_common():
        share = n / max(samples, 1)
        print(f"  {label:<42}{n * ms / done:>11.1f}{100 * share:>6.0f}%{share * cpu:>11.1f}")
    total = "total sampled; the workers' CPU (/proc)"
    print(f"  {total:<42}{samples * ms / done:>11.1f}{'':>7}{cpu:>11.1f}")
    print(product.redis_line(result, done))
    print("\n  hottest leaf functions:")
    for leaf, n in functions.most_common(25):
        print(f"  {n * ms / done:>7.2f} ms  {leaf[:110]}")


if __name__ == "__main__":
    sys.exit(main())
