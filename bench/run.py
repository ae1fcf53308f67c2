"""``make bench``: the limit L of the directory, then the product T, on this machine.

Options come from the command line or the environment (``BENCH_WORKERS=4 make bench``):

    --workers   BENCH_WORKERS   gunicorn workers                (default: cores)
    --threads   BENCH_THREADS   threads per worker              (default: 4)
    --users     BENCH_USERS     concurrent simulated users      (default: 16)
    --seconds   BENCH_SECONDS   duration of the T phase         (default: 30)
    --limit-seconds BENCH_LIMIT_SECONDS  duration of the L phase (default: 15)
    --floor-seconds BENCH_FLOOR_SECONDS  duration of the floor phase (default: 20)
    --keep      BENCH_KEEP=1    keep the temp dir (logs, config, .eml) afterwards

Phases: the directory's limit L, then the product T and the floor app (bench.floor: the same
nine requests with Flask, Flask-WTF, a session and Redis only, under the same gunicorn settings
and load) in alternating rounds, so that both meet the same load on a shared machine.
The last line: ``activation throughput T=<n>/s limit L=<n>/s
ratio=<T/L> errors=<n> p99=<ms>ms app_ms=<n> slapd_ms=<n> floor_ms=<n> app_cpu_ratio=<app/slapd>
floor_ratio=<app/floor>`` (p99 of every HTTP request of every step; CPU per activation).
"""

from __future__ import annotations

import argparse
import os
import sys

from . import limit, product
from .stack import Stack, log

TARGET_RATIO = 0.7  # the bar
ROUNDS = 3  # alternating chunks of the app and the floor


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def parse(argv: list[str] | None) -> argparse.Namespace:
    cores = os.cpu_count() or 1
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    p.add_argument("--workers", type=int, default=env_int("BENCH_WORKERS", cores))
    p.add_argument("--threads", type=int, default=env_int("BENCH_THREADS", 4))
    p.add_argument("--users", type=int, default=env_int("BENCH_USERS", 16))
    p.add_argument("--seconds", type=float, default=env_int("BENCH_SECONDS", 30))
    p.add_argument("--limit-seconds", type=float, default=env_int("BENCH_LIMIT_SECONDS", 15))
    p.add_argument("--limit-processes", type=int, default=env_int("BENCH_LIMIT_PROCESSES", cores))
    p.add_argument("--max-rate", type=int, default=env_int("BENCH_MAX_RATE", 100),
                   help="accounts are created for this many activations/s")  # fmt: skip
    p.add_argument("--floor-seconds", type=float, default=env_int("BENCH_FLOOR_SECONDS", 20))
    p.add_argument("--keep", action="store_true", default=bool(os.environ.get("BENCH_KEEP")))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    a = parse(argv)
    n_limit = int(a.max_rate * a.limit_seconds)
    n_product = int(a.max_rate * a.seconds)
    with Stack(keep=a.keep) as stack:
        accounts = stack.create_accounts(n_limit + n_product)
        logins = [acc.login for acc in accounts]
        try:
            # 1. The limit L.
            log(f"limit L: {a.limit_processes} ldap3 client process(es), {a.limit_seconds:.0f}s")
            lim = limit.measure(stack, logins[:n_limit], a.limit_seconds, a.limit_processes)
            if lim["done"] >= n_limit:
                log("warning: L ran out of accounts; raise --max-rate")
            print("\n== limit L: the directory work of an activation (search, bind, Modify)")
            print(
                f"  {lim['done']} activations in {lim['elapsed']:.1f}s with "
                f"{lim['processes']} processes: L={lim['rate']:.1f}/s, errors={lim['errors']}"
                + (f" (first: {lim['first_error']})" if lim["errors"] else "")
            )
            lat = [x * 1000 for x in lim["latencies"]]
            print(
                f"  latency per activation p50={product.percentile(lat, 0.5):.1f}ms "
                f"p99={product.percentile(lat, 0.99):.1f}ms; slapd CPU "
                f"{lim['slapd_cpu_ms_per_activation']:.1f} ms/activation; "
                f"CPU steal {lim['steal_percent']:.0f}%"
            )
            ops = limit.breakdown(stack, logins[n_limit - 100 : n_limit])
            print("  slapd CPU per operation, alone: "
                  + ", ".join(f"{op} {ms:.1f}ms" for op, ms in ops.items()))  # fmt: skip

            # 2. The product T and 3. the floor, in alternating chunks (app, floor, app,
            # floor...), so that both meet the same load on a shared machine: each one's CPU
            # is counted over its own chunks only.
            stack.start_app(a.workers, a.threads)
            stack.start_mail_worker()
            log(
                f"product T and floor: {a.users} users, closed loop, {a.seconds:.0f}s + "
                f"{a.floor_seconds:.0f}s in {ROUNDS} alternating rounds"
            )
            fake = [f"floor.u{i:06d}" for i in range(int(a.max_rate * a.floor_seconds * 4))]
            apps, floors, left = [], [], logins[n_limit:]
            for _ in range(ROUNDS):
                spec = {"mode": "closed", "users": a.users, "seconds": a.seconds / ROUNDS}
                apps.append(product.drive(stack, left, spec))
                left = left[apps[-1]["started"] :]
                if not floors:
                    stack.start_floor(a.workers, a.threads, apps[0]["page_bytes"])
                spec = {"mode": "closed", "users": a.users, "seconds": a.floor_seconds / ROUNDS}
                floors.append(product.drive(stack, fake, spec, url=stack.floor_url))
            res, floor = product.merge(apps), product.merge(floors)
            done = res["activations"]
            errors = sum(res["errors"].values())
            rate = done / res["elapsed"] if res["elapsed"] else 0.0
            log("waiting for the mail worker to deliver every validation mail")
            mails = stack.wait_mails(res["mails_before"] + done) - res["mails_before"]
            p99 = product.request_p99(res["samples"])
            print(
                f"\n== product T: gunicorn {a.workers}x{a.threads}, {a.users} users, "
                f"{res['elapsed']:.1f}s"
            )
            print(
                f"  {done} activations, T={rate:.1f}/s, errors={errors} "
                f"{res['errors'] or ''}, 5xx={product.five_xx(res['samples'])}, "
                f"mails={mails}/{done}"
            )
            for sample in res["error_samples"][:5]:
                print(f"    e.g. {sample}")
            acts = [x * 1000 for x in res["activation_seconds"]]
            print(
                f"  whole activation (9 requests) p50={product.percentile(acts, 0.5):.0f}ms "
                f"p95={product.percentile(acts, 0.95):.0f}ms "
                f"p99={product.percentile(acts, 0.99):.0f}ms"
            )
            print("\n".join(product.step_table(res["samples"])))
            print(
                f"  worker RSS (MiB): {res['worker_rss_mib']}; "
                f"CPU steal {res['steal_percent']:.0f}%"
            )
            print(product.redis_line(res, done))
            print("  CPU by process during the run:")
            print("\n".join(product.cpu_table(res, done)))
            print("\n".join(product.budget_lines(res, done, lim["rate"], TARGET_RATIO)))
            ratio = rate / lim["rate"] if lim["rate"] else 0.0
            app_ms = product.ms_per_activation(res, product.APP, done)
            slapd_ms = product.ms_per_activation(res, ("slapd",), done)
            floor_done = floor["activations"]
            floor_ms = product.ms_per_activation(floor, product.FLOOR, floor_done)
            errors += sum(floor["errors"].values())
            print(
                f"\n== floor: Flask + Flask-WTF + session + Redis, the same 9 requests, "
                f"gunicorn {a.workers}x{a.threads}"
            )
            print(
                f"  {floor_done} activations, {floor_done / floor['elapsed']:.1f}/s, "
                f"errors={sum(floor['errors'].values())} {floor['errors'] or ''}; "
                f"CPU {floor_ms:.1f} ms/activation (app {app_ms:.1f}, slapd {slapd_ms:.1f})"
            )
            print(product.redis_line(floor, floor_done))
        finally:
            stack.stop_child("app")
            stack.stop_child("mail-worker")
            stack.stop_child("floor")
            stack.remove_accounts()
        if a.keep:
            log(f"kept {stack.base}")
    print(
        f"activation throughput T={rate:.1f}/s limit L={lim['rate']:.1f}/s "
        f"ratio={ratio:.2f} errors={errors + lim['errors']} p99={p99:.0f}ms "
        f"app_ms={app_ms:.1f} slapd_ms={slapd_ms:.1f} floor_ms={floor_ms:.1f} "
        f"app_cpu_ratio={app_ms / slapd_ms if slapd_ms else 0:.2f} "
        f"floor_ratio={app_ms / floor_ms if floor_ms else 0:.2f}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
