"""The product T: the app under gunicorn with the real services, driven by bench.loadgen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from .stack import (
    NEW_PASSWORD,
    PROVISIONAL,
    ROOT,
    Stack,
    cpu_snapshot,
    cpu_times,
    rss_mib,
    steal_percent,
)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def drive(stack: Stack, logins: list[str], spec: dict, url: str | None = None) -> dict:
    """Run the load generator in its own process; returns its result plus CPU and RSS."""
    spec = {
        **spec,
        "url": url or stack.app_url,
        "logins": logins,
        "provisional": PROVISIONAL,
        "new_password": NEW_PASSWORD,
    }
    spec_path = stack.base / "loadgen-spec.json"
    result_path = stack.base / "loadgen-result.json"
    spec_path.write_text(json.dumps(spec))
    pids = stack.pids()
    before = cpu_snapshot(pids)
    mails_before = stack.mail_count()
    redis0 = stack.redis_commands()
    steal0 = cpu_times()
    t0 = time.monotonic()
    res = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", str(spec_path), str(result_path)],
        cwd=ROOT,
        timeout=spec["seconds"] + 600,
    )
    wall = time.monotonic() - t0
    after = cpu_snapshot(pids)
    steal = steal_percent(steal0, cpu_times())
    redis1 = stack.redis_commands()
    if res.returncode != 0:
        raise RuntimeError(f"the load generator failed (status {res.returncode})")
    result = json.loads(result_path.read_text())
    result["cpu_seconds"] = {role: after[role] - before[role] for role in before}
    result["cpu_seconds"]["loadgen"] = result["loadgen_cpu_seconds"]
    result["wall"] = wall
    result["steal_percent"] = steal
    result["redis_commands"] = {
        k: v - redis0.get(k, 0) for k, v in redis1.items() if v - redis0.get(k, 0) > 0
    }
    result["worker_rss_mib"] = [round(rss_mib(p), 1) for p in pids.get("gunicorn-workers", [])]
    result["mails_before"] = mails_before
    return result


def merge(results: list[dict]) -> dict:
    """Several runs of ``drive`` (chunks of one phase) as one: counts and CPU added up."""
    merged = dict(results[-1])
    for key in ("activations", "elapsed", "started", "wall"):
        merged[key] = sum(r[key] for r in results)
    for key in ("samples", "activation_seconds", "error_samples"):
        merged[key] = [x for r in results for x in r[key]]
    for key in ("errors", "cpu_seconds", "redis_commands"):
        total: dict = {}
        for r in results:
            for name, value in r[key].items():
                total[name] = total.get(name, 0) + value
        merged[key] = total
    merged["steal_percent"] = sum(r["steal_percent"] for r in results) / len(results)
    merged["mails_before"] = results[0]["mails_before"]
    return merged


def step_table(samples: list) -> list[str]:
    by_step: dict[str, list[float]] = {}
    for _offset, step, seconds, _status in samples:
        by_step.setdefault(step, []).append(seconds * 1000)
    lines = [f"  {'step':<22}{'n':>7}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}  (ms)"]
    from .loadgen import STEPS

    for step in [*STEPS, *sorted(set(by_step) - set(STEPS))]:
        values = by_step.get(step)
        if not values:
            continue
        lines.append(
            f"  {step:<22}{len(values):>7}{percentile(values, 0.5):>9.1f}"
            f"{percentile(values, 0.95):>9.1f}{percentile(values, 0.99):>9.1f}{max(values):>9.1f}"
        )
    return lines


def cpu_table(result: dict, activations: int) -> list[str]:
    cpu = result["cpu_seconds"]
    wall = result["elapsed"]
    lines = [f"  {'process':<18}{'CPU s':>8}{'cores':>7}{'ms/activation':>15}"]
    total = 0.0
    for role, seconds in sorted(cpu.items(), key=lambda kv: -kv[1]):
        total += seconds
        per = 1000 * seconds / activations if activations else 0.0
        lines.append(f"  {role:<18}{seconds:>8.1f}{seconds / wall:>7.2f}{per:>15.1f}")
    per = 1000 * total / activations if activations else 0.0
    lines.append(f"  {'total':<18}{total:>8.1f}{total / wall:>7.2f}{per:>15.1f}")
    return lines


def request_p99(samples: list) -> float:
    return percentile([s[2] * 1000 for s in samples], 0.99)


def five_xx(samples: list) -> int:
    return sum(1 for s in samples if s[3] >= 500)


def redis_line(result: dict, activations: int) -> str:
    """Redis commands per activation (the mail worker's polling included)."""
    calls = result.get("redis_commands", {})
    total = sum(calls.values())
    top = sorted(calls.items(), key=lambda kv: -kv[1])[:14]
    per = ", ".join(f"{k} {v / max(activations, 1):.1f}" for k, v in top)
    return f"  Redis commands per activation: {total / max(activations, 1):.1f} ({per})"


APP = ("gunicorn-workers", "gunicorn-master")
FLOOR = ("floor-workers", "floor-master")


def ms_per_activation(result: dict, roles: tuple[str, ...], activations: int) -> float:
    """CPU of these processes per activation, in ms."""
    cpu = result["cpu_seconds"]
    return 1000 * sum(cpu.get(role, 0.0) for role in roles) / activations if activations else 0.0


def budget_lines(result: dict, activations: int, limit_rate: float, target: float) -> list[str]:
    """What ``ratio >= target`` would leave the app, given what everything else costs here.

    With every process on the same cores, T can be at most cores / (CPU per activation):
    the CPU that slapd, Redis, the mail worker, the SMTP sink and the load generator spend on
    one activation comes first, the app gets what is left.
    """
    if not activations or not limit_rate:
        return []
    cores = os.cpu_count() or 1
    cpu = result["cpu_seconds"]
    app = 1000 * sum(cpu.get(role, 0.0) for role in APP) / activations
    others = 1000 * sum(s for role, s in cpu.items() if role not in APP) / activations
    wanted = target * limit_rate
    per_activation = 1000 * cores / wanted
    best = 1000 * cores / others / limit_rate if others else float("inf")
    return [
        f"  ratio {target} needs T={wanted:.1f}/s: at most {per_activation:.1f} ms of CPU per "
        f"activation on {cores} cores;",
        f"  the processes other than the app took {others:.1f} ms, leaving "
        f"{per_activation - others:.1f} ms for the app's 9 requests (it took {app:.1f} ms);",
        f"  with an app that cost nothing, ratio could reach at most {best:.2f} here.",
    ]
