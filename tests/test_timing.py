"""One answer and one cost: whatever the login, identification takes the same time and
confirms nothing; the decoy entry that makes it so. Against the real app and slapd."""

from __future__ import annotations

import random
import secrets
import statistics
import time

import ldap3
import pytest
from click.testing import CliRunner

from devstack.slapd import _ssha
from ent_idp import create_app
from ent_idp.cli import main

from .conftest import resources_of, store_of
from .pages import csrf_token, identify, text
from .test_admin_cli import environment

pytestmark = pytest.mark.security

WRONG = "Mauvais-2026"
PASSWORD = "Deja-Actif-2026!"
ROUNDS = 64  # samples of each kind, interleaved


@pytest.fixture
def untimed_app(settings):
    """The app with its throttles out of the way, so that every attempt reaches a bind."""
    app = create_app(
        {
            **settings,
            "THROTTLE_LOGIN_FREE_FAILURES": 100_000,
            "THROTTLE_LOGIN_MAX_FAILURES_PER_DAY": 0,
            "THROTTLE_ADDRESS_FREE_FAILURES": 100_000,
            "THROTTLE_PPOLICY_MAX_FAILURE": 0,
        }
    )
    store_of(app).redis.flushdb()
    yield app
    resources_of(app).close()


def timed(call) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def trimmed_mean(samples: list[float], cut: float = 0.1) -> float:
    ordered = sorted(samples)
    drop = int(len(ordered) * cut)
    return statistics.fmean(ordered[drop : len(ordered) - drop])


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def test_an_unknown_login_costs_what_an_existing_one_costs(untimed_app, accounts, stack):
    """An existing login used to cost an {ARGON2} bind and an unknown one nothing (≈ 10 ms
    apart): anyone could list which logins exist. Every refusal now costs one hashing:
    unknown logins bind against the decoy, and so do accounts with nothing to do in the flow
    (already active, blocked, locked by ppolicy, whose own bind would answer at once).

    Each round times one identification of each kind, in a random order, and the cost of
    an {ARGON2} verification (a wrong bind on an account, less a bind on a DN that does not
    exist); rounds are compared pair by pair, so that the load of a shared machine, which
    drifts from second to second, cancels out. A path without its hashing differs by the
    whole cost; the tolerance is half of it.
    """
    wrong = [accounts.create("pending") for _ in range(ROUNDS // 8 + 1)]
    meters = [accounts.create("pending") for _ in range(ROUNDS // 8 + 1)]
    active = accounts.create("active", password=PASSWORD)
    blocked = accounts.create("blocked", password=PASSWORD)
    locked = accounts.create("pending")
    admin = stack.slapd.admin_connection()
    now = time.strftime("%Y%m%d%H%M%SZ", time.gmtime())
    admin.modify(locked["dn"], {"pwdAccountLockedTime": [("MODIFY_REPLACE", [now])]})
    admin.unbind()
    kinds = {
        "wrong password": lambda n: (wrong[n // 8]["login"], WRONG),
        "unknown login": lambda n: (f"inconnu.{secrets.token_hex(4)}", WRONG),
        "already active, right password": lambda n: (active["login"], PASSWORD),
        "blocked, right password": lambda n: (blocked["login"], PASSWORD),
        "locked by ppolicy": lambda n: (locked["login"], locked["password"]),
    }
    client = untimed_app.test_client()
    token = csrf_token(client.get("/activation").get_data(as_text=True))
    ldap = ldap3.Connection(stack.slapd.server(), raise_exceptions=False)
    ldap.open()
    nobody = f"uid=nobody,{stack.slapd.people_dn}"
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    costs: list[float] = []
    for n in range(ROUNDS):  # 8 wrong binds per account: below ppolicy's lockout (10)
        meter = meters[n // 8]["dn"]
        hashed = timed(lambda meter=meter: ldap.rebind(user=meter, password=WRONG))
        costs.append(hashed - timed(lambda: ldap.rebind(user=nobody, password=WRONG)))
        for kind in random.sample(list(kinds), len(kinds)):
            login, password = kinds[kind](n)
            data = {"csrf_token": token, "login": login, "password": password}
            times[kind].append(timed(lambda data=data: client.post("/activation", data=data)))
    ldap.unbind()
    cost = statistics.median(costs)
    assert cost > 0.002, f"{ms(cost)}: the test slapd does not hash with argon2"
    baseline = times["wrong password"]
    report = [f"argon2 {ms(cost)}, tolerance {ms(cost / 2)}"]
    for kind, spent in times.items():
        gaps = [mine - theirs for mine, theirs in zip(spent, baseline, strict=True)]
        report.append(
            f"{kind}: median {ms(statistics.median(spent))}, trimmed mean "
            f"{ms(trimmed_mean(spent))}; against a wrong password, median "
            f"{ms(statistics.median(gaps))}, trimmed mean {ms(trimmed_mean(gaps))}"
        )
        times[kind] = gaps
    print("\n".join(report))
    for kind, gaps in times.items():
        assert abs(statistics.median(gaps)) < cost / 2, (kind, report)
        assert abs(trimmed_mean(gaps)) < cost / 2, (kind, report)


def test_the_right_password_of_an_active_account_is_not_confirmed(client, accounts):
    """« Votre compte est déjà actif » told whoever typed it that the password was right:
    a password oracle on « Activer mon compte ». It is now the answer of any failure."""
    active = accounts.create("active", password=PASSWORD)
    for kind in ("activation", "reinitialisation"):
        right = identify(client, kind, active["login"], PASSWORD)
        unknown = identify(client, kind, "personne.inconnue", PASSWORD)
        assert right.status_code == unknown.status_code == 200
        assert right.request.path == unknown.request.path == f"/{kind}"
        page = text(right)
        assert page.replace(active["login"], "X") == text(unknown).replace("personne.inconnue", "X")
        assert "Votre compte est déjà actif ? Il n'y a rien à activer" in page
    assert client.get("/activation/cgu").headers["Location"].startswith("/activation"), "no flow"


@pytest.mark.parametrize("state", ["active", "blocked"])
def test_an_account_with_nothing_to_do_is_not_bound_and_counts_as_a_failure(
    app, client, accounts, state
):
    """Its password is never checked (the decoy is), so ppolicy records nothing on it; and
    the attempt counts, so it is no free oracle either."""
    account = accounts.create(state, password=PASSWORD)
    identify(client, "activation", account["login"], WRONG)
    identify(client, "activation", account["login"], PASSWORD)
    assert "pwdfailuretime" not in accounts.read(account["dn"])
    throttle = store_of(app).throttle
    fails = store_of(app).redis.hget(throttle.key("entry", account["dn"].lower()), "fails")
    assert fails == "2"


def test_the_cgu_flow_is_a_login_and_confirms(client, accounts):
    """/conditions is for active accounts: there the right password is the way in."""
    active = accounts.create("active", password=PASSWORD, cgu_version="2024-09")
    assert identify(client, "conditions", active["login"], PASSWORD).request.path.endswith("/cgu")


def test_the_decoy_never_locks_and_keeps_one_failure(untimed_app, stack):
    """Every unknown login fails on the decoy, thousands a day: it must never lock (which
    would make its binds fast again) nor pile up failure times."""
    client = untimed_app.test_client()
    for n in range(30):
        identify(client, "activation", f"inconnu.{n}", WRONG)
    admin = stack.slapd.admin_connection()
    try:
        attributes = ["userPassword", "pwdFailureTime", "pwdAccountLockedTime"]
        admin.search(stack.slapd.decoy_dn, "(objectClass=*)", "BASE", attributes=attributes)
        decoy = {k.lower(): v for k, v in admin.response[0]["raw_attributes"].items()}
    finally:
        admin.unbind()
    assert decoy["userpassword"][0].startswith(b"{ARGON2}$argon2")
    assert len(decoy["pwdfailuretime"]) == 1 and not decoy.get("pwdaccountlockedtime")


@pytest.fixture
def check(settings, stack):
    def run(**changes: str):
        env = environment(
            settings,
            ADMIN_BIND_DN=stack.slapd.admin_dn,
            ADMIN_BIND_PASSWORD=stack.slapd.admin_password,
            **changes,
        )
        return CliRunner().invoke(main, ["check"], env=env)

    return run


@pytest.fixture
def other_decoy(stack):
    """Another entry under ou=services, with the password given to ``make``."""
    admin = stack.slapd.admin_connection()
    made = []

    def make(password: str) -> str:
        dn = f"cn=decoy-{secrets.token_hex(3)},ou=services,{stack.slapd.suffix}"
        assert admin.add(
            dn, ["applicationProcess", "simpleSecurityObject"], {"userPassword": password}
        )
        made.append(dn)
        return dn

    yield make
    for dn in made:
        admin.delete(dn)
    admin.unbind()


def test_check_verifies_the_decoy(check):
    result = check()
    assert result.exit_code == 0, result.output
    assert "ok    LDAP: the decoy entry" in result.stdout


@pytest.mark.parametrize(
    ("password", "failure"),
    [
        (lambda: _ssha("x" + secrets.token_hex(8)), "it is hashed {SSHA}, the accounts {ARGON2}"),
        (lambda: "REPLACE-WITH-A-RANDOM-PASSWORD", "still the placeholder of decoy.ldif"),
    ],
)
def test_check_fails_on_a_decoy_that_would_not_do(check, other_decoy, password, failure):
    """A decoy hashed more cheaply than the accounts, or with the password every copy of
    decoy.ldif carries, gives the timing back or the decoy away."""
    result = check(LDAP_DECOY_DN=other_decoy(password()))
    assert result.exit_code == 1
    [line] = [line for line in result.stdout.splitlines() if "decoy entry" in line]
    assert line.startswith("FAIL") and failure in line, line


def test_check_fails_when_the_decoy_is_missing(check, stack):
    result = check(LDAP_DECOY_DN=f"cn=nowhere,ou=services,{stack.slapd.suffix}")
    assert result.exit_code == 1
    assert "no such entry: add ldap_schema/decoy.ldif" in result.stdout
