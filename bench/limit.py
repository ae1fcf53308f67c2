"""The limit L: the directory work of one activation, and nothing else, in tight loops.

Per activation, as ent-idp does it (``ent_idp/directory.py``): a search by login on the
service connection, a bind as the user with the provisional password on a bind-only
connection of the process (rebound for every user, as the app's bind pool does), then the
completion Modify of ``Directory.complete`` (new cleartext password hashed {ARGON2} by slapd,
CGU, backup address, forwarding wish, state, time) under the critical Assertion control.
One client process per core.
"""

from __future__ import annotations

import multiprocessing
import os
import time

import ldap3
from ldap3.operation.search import compile_filter, parse_filter
from ldap3.utils.asn1 import encode as ber_encode
from ldap3.utils.conv import escape_filter_chars

from .stack import CGU_VERSION, NEW_PASSWORD, PROVISIONAL

ASSERTION_CONTROL = "1.3.6.1.1.12"


def _encode_filter(search_filter: str) -> bytes:
    tree = parse_filter(search_filter, None, False, False, None, False)
    return ber_encode(compile_filter(tree.elements[0]))


def _connection(url: str, user: str | None = None, password: str | None = None):
    server = ldap3.Server(url, get_info=ldap3.NONE, connect_timeout=5)
    conn = ldap3.Connection(
        server, user=user, password=password, receive_timeout=10, raise_exceptions=False
    )
    if user and not conn.bind():
        raise RuntimeError(f"bind as {user} refused: {conn.result}")
    return conn


def _stamp() -> str:
    return time.strftime("%Y%m%d%H%M%SZ", time.gmtime())


def _one(service, binder, people_dn: str, login: str) -> str:
    """One activation's directory work; returns "" or what went wrong."""
    search_filter = f"(&(objectClass=entIdpAccount)(uid={escape_filter_chars(login)}))"
    service.search(
        people_dn,
        search_filter,
        attributes=[
            "uid",
            "entIdpAccountState",
            "entIdpCguVersion",
            "entIdpBackupMail",
            "entIdpBackupMailVerifiedTime",
            "entIdpMailForward",
            "mail",
            "givenName",
            "sn",
            "pwdChangedTime",
        ],
        size_limit=2,
        time_limit=5,
    )
    entries = [e for e in service.response or [] if e.get("type") == "searchResEntry"]
    if len(entries) != 1:
        return f"search: {len(entries)} entries"
    entry = entries[0]
    dn = entry["dn"]
    if not binder.rebind(user=dn, password=PROVISIONAL):
        return f"bind: {binder.result.get('description')}"
    binder.password = None
    state = (entry["attributes"].get("entIdpAccountState") or [""])[0]
    changed = entry["attributes"].get("pwdChangedTime") or []
    changed_filter = (
        f"(pwdChangedTime={escape_filter_chars(str(changed[0]))})"
        if changed
        else "(!(pwdChangedTime=*))"
    )
    assertion = f"(&(entIdpAccountState={escape_filter_chars(state)}){changed_filter})"
    stamp = _stamp()
    changes = {
        "userPassword": [(ldap3.MODIFY_REPLACE, [NEW_PASSWORD])],
        "entIdpAccountState": [(ldap3.MODIFY_REPLACE, ["active"])],
        "entIdpActivatedTime": [(ldap3.MODIFY_REPLACE, [stamp])],
        "entIdpMailForward": [(ldap3.MODIFY_REPLACE, ["TRUE"])],
        "entIdpCguVersion": [(ldap3.MODIFY_REPLACE, [CGU_VERSION])],
        "entIdpCguAcceptedTime": [(ldap3.MODIFY_REPLACE, [stamp])],
        "entIdpBackupMail": [(ldap3.MODIFY_REPLACE, [f"{login}@perso.example.net"])],
        "entIdpBackupMailVerifiedTime": [(ldap3.MODIFY_REPLACE, [])],
        "mailRoutingAddress": [(ldap3.MODIFY_REPLACE, [])],
    }
    controls = [(ASSERTION_CONTROL, True, _encode_filter(assertion))]
    service.modify(dn, changes, controls=controls)
    if service.result.get("result") != 0:
        return f"modify: {service.result.get('description')} {service.result.get('message')}"
    return ""


def _worker(url, service_dn, service_password, people_dn, logins, seconds, start, out) -> None:
    service = _connection(url, service_dn, service_password)
    binder = _connection(url)
    binder.open()
    done, errors, latencies, first_error = 0, 0, [], ""
    start.wait()
    t0 = time.perf_counter()
    deadline = t0 + seconds
    for login in logins:
        began = time.perf_counter()
        if began >= deadline:
            break
        try:
            error = _one(service, binder, people_dn, login)
        except ldap3.core.exceptions.LDAPException as exc:
            error = f"{type(exc).__name__}: {exc}"
        latencies.append(time.perf_counter() - began)
        if error:
            errors += 1
            first_error = first_error or error
        else:
            done += 1
    elapsed = time.perf_counter() - t0
    service.unbind()
    binder.unbind()
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
    procs = [
        ctx.Process(
            target=_worker,
            args=(
                slapd.url,
                slapd.service_dn,
                slapd.service_password,
                slapd.people_dn,
                part,
                seconds,
                start,
                out,
            ),
        )  # fmt: skip
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

    slapd = stack.slapd
    pid = slapd._proc.pid
    service = _connection(slapd.url, slapd.service_dn, slapd.service_password)
    binder = _connection(slapd.url)
    binder.open()
    logins = logins[:n]
    dns = [f"uid={login},ou=bench,{slapd.people_dn}" for login in logins]
    costs = {}
    t = cpu_seconds(pid)
    for login in logins:
        service.search(slapd.people_dn, f"(&(objectClass=entIdpAccount)(uid={login}))",
                       attributes=["uid", "entIdpAccountState", "pwdChangedTime"])  # fmt: skip
    costs["search"] = cpu_seconds(pid) - t
    t = cpu_seconds(pid)
    for dn in dns:
        binder.rebind(user=dn, password=PROVISIONAL)
    costs["bind {ARGON2}"] = cpu_seconds(pid) - t
    t = cpu_seconds(pid)
    for login in logins:
        _one(service, binder, slapd.people_dn, login)
    costs["whole (search+bind+modify)"] = cpu_seconds(pid) - t
    service.unbind()
    binder.unbind()
    result = {op: 1000 * seconds / len(logins) for op, seconds in costs.items()}
    result["modify (whole - search - bind)"] = (
        result["whole (search+bind+modify)"] - result["search"] - result["bind {ARGON2}"]
    )
    return result
