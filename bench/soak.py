"""``make bench-soak``: activations started at a fixed rate for a fixed time.

    --rate     BENCH_SOAK_RATE     activations started per second   (default: 50)
    --seconds  BENCH_SOAK_SECONDS  duration                         (default: 600)
    --workers / --threads          as for make bench (BENCH_WORKERS, BENCH_THREADS)
    --keep     BENCH_KEEP=1        keep the temp dir afterwards

Open loop: an activation starts every 1/rate s whatever the previous ones take; one that
the generator could not start within 10 s of its time (the server is saturated) counts as
an error, so the run stays bounded. Checks: zero 5xx, zero lost mails (one validation mail
per activation, as .eml files in the sink once the queue is empty), and prints request
latency percentiles per minute. Last line:
``soak rate=<r>/s seconds=<s> activations=<n>/<started> 5xx=<n> errors=<n> mails=<m>/<n>
lost=<n> p99=<ms>ms``.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import product
from .run import env_int
from .stack import Stack, log


def main(argv: list[str] | None = None) -> int:
    cores = os.cpu_count() or 1
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=float, default=env_int("BENCH_SOAK_RATE", 50))
    p.add_argument("--seconds", type=float, default=env_int("BENCH_SOAK_SECONDS", 600))
    p.add_argument("--workers", type=int, default=env_int("BENCH_WORKERS", cores))
    p.add_argument("--threads", type=int, default=env_int("BENCH_THREADS", 4))
    p.add_argument("--keep", action="store_true", default=bool(os.environ.get("BENCH_KEEP")))
    a = p.parse_args(argv)
    needed = int(a.rate * a.seconds) + 10
    with Stack(keep=a.keep) as stack:
        logins = [acc.login for acc in stack.create_accounts(needed)]
        try:
            stack.start_app(a.workers, a.threads)
            stack.start_mail_worker()
            log(f"soak: {a.rate:g} activations/s for {a.seconds:.0f}s")
            res = product.drive(
                stack,
                logins,
                {"mode": "open", "rate": a.rate, "seconds": a.seconds, "max_in_flight": 512},
            )
            done = res["activations"]
            log("waiting for the mail worker to deliver every validation mail")
            mails = stack.wait_mails(res["mails_before"] + done, timeout=300)
            mails -= res["mails_before"]
        finally:
            stack.stop_child("app")
            stack.stop_child("mail-worker")
            stack.remove_accounts()
        if a.keep:
            log(f"kept {stack.base}")
    samples = res["samples"]
    errors = sum(res["errors"].values())
    print(f"\n== soak: {a.rate:g}/s offered for {a.seconds:.0f}s, gunicorn {a.workers}x{a.threads}")
    print(
        f"  started {res['started']}, completed {done}, errors {errors} {res['errors'] or ''}, "
        f"5xx {product.five_xx(samples)}, mails {mails}/{done}"
    )
    for sample in res["error_samples"][:5]:
        print(f"    e.g. {sample}")
    print(f"  {'minute':<8}{'started':>8}{'done':>7}{'5xx':>6}{'p50':>9}{'p95':>9}{'p99':>9}"
          f"{'act p99':>10}  (request ms; act = whole activation)")  # fmt: skip
    minutes = int(max(a.seconds, 1) // 60) + (1 if a.seconds % 60 else 0)
    for m in range(minutes):
        window = [s for s in samples if m * 60 <= s[0] < (m + 1) * 60]
        acts = [f for f in res["finished"] if m * 60 <= f[0] < (m + 1) * 60]
        ms = [s[2] * 1000 for s in window]
        act_ms = [f[1] * 1000 for f in acts]
        started = sum(1 for s in window if s[1] == "identification GET")
        print(
            f"  {m + 1:<8}{started:>8}{len(acts):>7}{sum(1 for s in window if s[3] >= 500):>6}"
            f"{product.percentile(ms, 0.5):>9.1f}{product.percentile(ms, 0.95):>9.1f}"
            f"{product.percentile(ms, 0.99):>9.1f}{product.percentile(act_ms, 0.99):>10.0f}"
        )
    print("\n".join(product.step_table(samples)))
    print(f"  worker RSS (MiB): {res['worker_rss_mib']}")
    print(product.redis_line(res, done))
    print("  CPU by process during the run:")
    print("\n".join(product.cpu_table(res, max(done, 1))))
    print(
        f"soak rate={a.rate:g}/s seconds={a.seconds:.0f} activations={done}/{res['started']} "
        f"5xx={product.five_xx(samples)} errors={errors} mails={mails}/{done} "
        f"lost={max(done - mails, 0)} p99={product.request_p99(samples):.0f}ms",
        flush=True,
    )
    return 0 if errors == 0 and mails >= done and product.five_xx(samples) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
