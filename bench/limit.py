"""The limit L: the directory work of one activation, and nothing else, in tight loops.

Per activation, with the app's own code (``ent_idp.directory.AppDirectory``, built from the
same settings file as the app under test): ``find`` (a search by login as the app account),
``check_password`` (a bind as the user with the provisional password, on the process's
bind-only connections), then ``complete`` (the completion Modify: new cleartext password
hashed {ARGON2} by slapd, CGU, backup address, forwarding wish, state, time, under the
critical Assertion control). So the benchmark sends exactly what the app sends. One client
process per core.
"""

from __future__ import annotations

import multiprocessing
import os
import time

from ent_idp import settings
from ent_idp.directory import AppDirectory, Charter, PasswordCheck, app_directory
from ent_idp.errors import (
    AccountNotFound,
    Conflict,
    DirectoryUnavailable,
    PasswordRejected,
)

from .stack import CGU_VERSION, NEW_PASSWORD, PROVISIONAL

FAILURES = (AccountNotFound, Conflict, DirectoryUnavailable, PasswordRejected)


def _directory(config_file: str) -> AppDirectory:
    return app_directory(settings.load(config_file))


def _one(directory: AppDirectory, login: str) -> str:
    """One activation's directory work; returns "" or what went wrong."""
    account = directory.find(login)
    if directory.check_password(account.dn, PROVISIONAL) is not PasswordCheck.OK:
        return "bind: wrong password"
    directory.complete(
        account,
        password=NEW_PASSWORD,
        charter=Charter("", CGU_VERSION),
        backup_mail=f"{login}@perso.example.net",
        forward=True,
    )
    return ""


def _worker(config_file, logins, seconds, start, out) -> None:
    directory = _directory(config_file)
    directory.check_bind()  # connections open and bound before the clock starts
    done, errors, latencies, first_error = 0, 0, [], ""
    start.wait()
    t0 = time.perf_counter()
    deadline = t0 + seconds
    for login in logins:
        began = time.perf_counter()
        if began >= deadline:
            break
        try:
            error = _one(directory, login)
        except FAILURES as exc:
            error = f"{type(exc).__name__}: {exc}"
        latencies.append(time.perf_counter() - began)
        if error:
            errors += 1
            first_error = first_error or error
        else:
            done += 1
    elapsed = time.perf_counter() - t0
    directory.connections.close()
    out.put({"done": done, "errors": errors, "elapsed": elapsed, "latencies": latencies,
             "first_error": first_error, "pid": os.getpid()})  # fmt: skip


def measure(stack, logins: list[str], seconds: float, processes: int) -> dict:
    """Run ``processes`` clients for ``seconds`` (or until ``logins`` run out)."""
    from .stack import cpu_seconds, cpu_times, steal_percent

    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    out = ctx.Queue()
    slices = [logins[i::processes] for i in range(processes)]
    slapd = stack.slapd
    config_file = str(stack.write_config())
    procs = [
        ctx.Process(target=_worker, args=(config_file, part, seconds, start, out))
        for part in slices
    ]
    for proc in procs:
        proc.start()
    time.sleep(0.5)  # connections open and bound
    slapd_pid = slapd._proc.pid
    slapd_cpu0 = cpu_seconds(slapd_pid)
    steal0 = cpu_times()
    start.set()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    slapd_cpu = cpu_seconds(slapd_pid) - slapd_cpu0
    steal = steal_percent(steal0, cpu_times())
    for proc in procs:
        proc.join(timeout=30)
    done = sum(r["done"] for r in results)
    elapsed = max(r["elapsed"] for r in results)
    latencies = sorted(x for r in results for x in r["latencies"])
    return {
        "done": done,
        "errors": sum(r["errors"] for r in results),
        "first_error": next((r["first_error"] for r in results if r["first_error"]), ""),
        "elapsed": elapsed,
        "rate": done / elapsed if elapsed else 0.0,
        "latencies": latencies,
        "slapd_cpu_ms_per_activation": 1000 * slapd_cpu / done if done else 0.0,
        "processes": processes,
        "steal_percent": steal,
    }


def breakdown(stack, logins: list[str], n: int = 100) -> dict[str, float]:
    """slapd CPU (ms) of each operation of an activation, one at a time, ``n`` of each."""
    from .stack import cpu_seconds

    pid = stack.slapd._proc.pid
    directory = _directory(str(stack.write_config()))
    logins = logins[:n]
    costs = {}
    t = cpu_seconds(pid)
    accounts = [directory.find(login) for login in logins]
    costs["search"] = cpu_seconds(pid) - t
    t = cpu_seconds(pid)
    for account in accounts:
        directory.check_password(account.dn, PROVISIONAL)
    costs["bind {ARGON2}"] = cpu_seconds(pid) - t
    t = cpu_seconds(pid)
    for login in logins:
        try:
            _one(directory, login)
        except FAILURES:
            pass  # counted all the same: the work was sent
    costs["whole (search+bind+modify)"] = cpu_seconds(pid) - t
    directory.connections.close()
    result = {op: 1000 * seconds / len(logins) for op, seconds in costs.items()}
    result["modify (whole - search - bind)"] = (
        result["whole (search+bind+modify)"] - result["search"] - result["bind {ARGON2}"]
    )
    return result
