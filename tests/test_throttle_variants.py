"""Counters keyed the way the directory matches (per entry, or per folded login), and a
success that erases nobody else's failures: against the real slapd and Redis."""

from __future__ import annotations

import ldap3
import pytest
from ldap3.utils.conv import escape_filter_chars

from ent_idp.store import fold_login

from .conftest import store_of
from .pages import identify

pytestmark = pytest.mark.security

WRONG = "Mauvais-2026"


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def look_alikes(login: str) -> list[str]:
    """Eleven other spellings of ``login`` (lower-case ASCII) that slapd matches to it."""
    return [
        fullwidth(login),
        fullwidth(login[0]) + login[1:],
        login.upper(),
        login.title(),
        f" {login}",
        f"{login}\u00a0",  # no-break space
        f"\u3000{login}\u2002",  # ideographic space, en space
        login.replace(".", "\uff0e"),  # fullwidth full stop
        chr(0x1D41A + ord(login[0]) - ord("a")) + login[1:],  # mathematical bold letter
        chr(0x24D0 + ord(login[0]) - ord("a")) + login[1:],  # circled letter
        fullwidth(login.upper()),
    ]


def ppolicy(accounts, account) -> dict:
    entry = accounts.read(account["dn"])
    return {
        "failures": len(entry.get("pwdfailuretime", [])),
        "locked": bool(entry.get("pwdaccountlockedtime")),
    }


def test_look_alike_logins_share_the_entrys_counter(client, accounts):
    """Eleven wrong passwords typed as look-alikes used to reach the directory one counter
    each, and ppolicy then locked the pupil out of CAS too: now every spelling counts on the
    entry found, the free failures are spent after five, and the entry is never locked."""
    account = accounts.create("pending", given_name="Alice", surname="Martin")
    variants = look_alikes(account["login"])
    statuses = [identify(client, "activation", v, WRONG).status_code for v in variants]
    assert statuses == [200] * 5 + [429] * 6
    assert ppolicy(accounts, account) == {"failures": 5, "locked": False}
    assert accounts.binds(account["dn"], account["password"]), "the pupil can still log in"


def test_unknown_look_alikes_share_one_counter(client):
    """An unknown login is counted folded as the directory folds it: its spellings do not
    get five free failures each (which would also tell that it does not exist)."""
    variants = look_alikes("personne.inconnue")
    statuses = [identify(client, "activation", v, WRONG).status_code for v in variants]
    assert statuses == [200] * 5 + [429] * 6


# Spellings of each stored login: those slapd matches, and those it does not.
SAME = {
    "alice.martin": [
        "ALICE.MARTIN",
        "ａｌｉｃｅ．ｍａｒｔｉｎ",
        " alice.martin\u00a0",
        "ALİCE.martin",
    ],
    "jean luc": ["jean  luc", "jean\u00a0luc", "jean\u3000luc", "JEAN\u2009LUC"],
    "élodie.roux": ["e\u0301lodie.roux", "ÉLODIE.ROUX", "E\u0301LODIE.ROUX"],
    "straße": ["STRAßE", "ｓｔｒａßｅ"],
    "ﬁona": ["fiona", "ＦＩＯＮＡ"],
}
DIFFERENT = {
    "alice.martin": ["alice\u200b.martin", "alice .martin", "al\u0131ce.martin"],
    "jean luc": ["jean\tluc", "jeanluc"],
    "élodie.roux": ["elodie.roux"],
    "straße": ["strasse"],
    "ﬁona": ["fìona"],
}


@pytest.fixture(scope="module")
def spellings(stack):
    """One entry per stored login, in their own branch; removed afterwards."""
    conn = stack.slapd.admin_connection()
    base = f"ou=spellings,{stack.slapd.suffix}"
    conn.add(base, "organizationalUnit", {"ou": "spellings"})
    dns = []
    for n, login in enumerate(SAME):
        dn = f"cn=s{n},{base}"
        conn.add(dn, ["inetOrgPerson"], {"cn": f"s{n}", "sn": "x", "uid": login})
        assert conn.result["result"] == 0, conn.result
        dns.append(dn)
    yield conn, base
    for dn in dns:
        conn.delete(dn)
    conn.delete(base)
    conn.unbind()


def slapd_finds(conn: ldap3.Connection, base: str, typed: str) -> list[str]:
    conn.search(base, f"(uid={escape_filter_chars(typed)})", attributes=["uid"])
    return [e["attributes"]["uid"][0] for e in conn.response if e.get("type") == "searchResEntry"]


@pytest.mark.parametrize(
    ("stored", "typed", "matched"),
    [(s, t, True) for s, ts in SAME.items() for t in ts]
    + [(s, t, False) for s, ts in DIFFERENT.items() for t in ts],
)
def test_the_fold_is_the_directorys(spellings, stored, typed, matched):
    """The counter of an unknown login must merge exactly what slapd merges: fewer, and a
    look-alike would get free failures of its own; more, and the counters would tell which
    logins exist. Each pair is checked against the real slapd first."""
    conn, base = spellings
    assert (slapd_finds(conn, base, typed) == [stored]) is matched
    assert (fold_login(typed) == fold_login(stored)) is matched


def test_a_success_does_not_reset_the_address_counters(app, accounts):
    """A sprayer who knows one account must not wipe its address's failures by logging in
    with it now and then: the 31st failure from that address is held back all the same."""
    known = accounts.create("pending")
    sprayer = app.test_client()
    sprayer.environ_base["REMOTE_ADDR"] = "203.0.113.70"
    first = [identify(sprayer, "activation", f"eleve.a{n}", WRONG).status_code for n in range(20)]
    assert identify(sprayer, "activation", known["login"], known["password"]).status_code == 200
    then = [identify(sprayer, "activation", f"eleve.b{n}", WRONG).status_code for n in range(11)]
    assert first == [200] * 20
    assert then == [200] * 10 + [429]


def test_a_success_does_not_reset_another_logins_failures(app, accounts):
    """Succeeding on one's own account must not give free guesses on a classmate's."""
    victim, own = accounts.create("pending"), accounts.create("pending")
    browser = app.test_client()
    for _ in range(4):
        identify(browser, "activation", victim["login"], WRONG)
    assert identify(browser, "activation", own["login"], own["password"]).status_code == 200
    throttle, redis = store_of(app).throttle, store_of(app).redis
    assert redis.hget(throttle.key("entry", victim["dn"].lower()), "fails") == "4"
    other = app.test_client()
    statuses = [identify(other, "activation", victim["login"], WRONG).status_code for _ in range(2)]
    assert statuses == [200, 429], "one free failure was left, not five"
