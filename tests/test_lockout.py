"""A targeted lockout is expensive: device cookies, « Débloquer mon compte », the school's
reset, and a directory that never locks; against the real slapd, Redis and mail."""

from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from ent_idp.cli import main
from ent_idp.core.devices import COOKIE

from .cas_client import cas_login
from .conftest import CGU_VERSION, resources_of, store_of
from .pages import identify, link_in, prepare_post, submit, text
from .test_admin_cli import PROVISIONAL, environment
from .test_throttle import skip_the_directory_window

pytestmark = pytest.mark.security

WRONG = "Mauvais-2026"
PASSWORD = "Deja-Actif-2026!"
BACKUP = "emma.perso@example.net"


def browser(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def burn(app, account, address: str = "203.0.113.66", kind: str = "activation") -> None:
    """Someone who knows the login fails on purpose until held back."""
    attacker = browser(app, address)
    statuses = [identify(attacker, kind, account["login"], WRONG).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    assert identify(attacker, kind, account["login"], account["password"]).status_code == 429


def device_cookie(response) -> str:
    for response_ in (response, *response.history):
        for header in response_.headers.getlist("Set-Cookie"):
            if header.startswith(f"{COOKIE}="):
                return header
    return ""


def ppolicy(accounts, account) -> tuple[int, bool]:
    entry = accounts.read(account["dn"])
    return len(entry.get("pwdfailuretime", [])), bool(entry.get("pwdaccountlockedtime"))


def test_someone_failing_on_purpose_does_not_hold_back_a_browser_that_succeeded(app, accounts):
    """Knowing a pupil's login must not be enough to lock them out for a day: the browser
    they succeeded in before keeps its own attempts (OWASP device cookies)."""
    account = accounts.create("pending")
    owner = browser(app, "198.51.100.20")
    assert identify(owner, "activation", account["login"], account["password"]).status_code == 200
    burn(app, account)
    assert ppolicy(accounts, account) == (5, False)
    again = identify(owner, "activation", account["login"], account["password"])
    assert again.request.path == "/activation/cgu"
    assert ppolicy(accounts, account) == (0, False), "a success clears ppolicy's failures"


def test_the_device_cookie_is_httponly_signed_and_names_no_login(app, accounts):
    """The cookie must not tell a login to whoever reads it, nor be forged or carried over
    from one's own account to someone else's."""
    victim, own = accounts.create("pending"), accounts.create("pending")
    attacker = browser(app, "203.0.113.66")
    header = device_cookie(identify(attacker, "activation", own["login"], own["password"]))
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Max-Age=15552000" in header
    assert own["login"] not in header and "uid=" not in header.lower()
    statuses = [
        identify(attacker, "activation", victim["login"], WRONG).status_code for _ in range(6)
    ]
    assert statuses == [200] * 5 + [429], "a cookie for one's own entry buys nothing on another"
    value = SimpleCookie(header)[COOKIE].value
    forged = browser(app, "198.51.100.21")
    forged.set_cookie(COOKIE, value[:-4] + "AAAA")
    assert identify(forged, "activation", victim["login"], victim["password"]).status_code == 429


def test_a_device_gets_the_same_rule_in_its_own_bucket(app, accounts):
    """A stolen or shared browser holding the cookie gets five free failures too, not more."""
    account = accounts.create("pending")
    owner = browser(app, "198.51.100.20")
    identify(owner, "activation", account["login"], account["password"])
    statuses = [
        identify(owner, "activation", account["login"], WRONG).status_code for _ in range(6)
    ]
    assert statuses == [200] * 5 + [429]


def test_buckets_never_add_up_to_a_directory_lockout(app, accounts, stack):
    """ppolicy locks an entry after 10 failures in 15 minutes, for CAS too: whatever the
    buckets, the binds that fail on one entry stay below that."""
    account = accounts.create("pending")
    owner = browser(app, "198.51.100.20")
    identify(owner, "activation", account["login"], account["password"])
    burn(app, account)
    statuses = [
        identify(owner, "activation", account["login"], WRONG).status_code for _ in range(5)
    ]
    assert statuses == [200] * 4 + [429]
    assert "15 minutes" in text(identify(owner, "activation", account["login"], WRONG))
    assert ppolicy(accounts, account) == (9, False)
    skip_the_directory_window(app, stack, account)
    again = identify(owner, "activation", account["login"], account["password"])
    assert again.request.path == "/activation/cgu"


def unlock(app, client, account, deliver):
    """« Débloquer mon compte » from the held-back page to the link's button."""
    held = identify(client, "reinitialisation", account["login"], account["password"])
    assert held.status_code == 429 and 'href="/deblocage"' in held.get_data(as_text=True)
    asked = submit(client, "/deblocage", {"login": account["login"]})
    assert "Consultez votre messagerie personnelle" in text(asked)
    [message] = deliver(1)
    assert message["To"] == BACKUP
    return link_in(message, "deblocage/lien").removeprefix("http://ent-idp.test")


def test_the_verified_backup_address_unblocks_this_browser(app, accounts, deliver):
    """A pupil held back by someone else's failures proves they own the verified address:
    the link frees the browser that opens it, and nothing else."""
    account = accounts.create("reset", backup_mail=BACKUP, backup_verified=True)
    burn(app, account, kind="reinitialisation")
    owner = browser(app, "198.51.100.20")
    path = unlock(app, owner, account, deliver)
    assert "Débloquer sur cet appareil" in text(owner.get(path))
    assert "Débloquer sur cet appareil" in text(owner.get(path)), "a GET consumes nothing"
    late = prepare_post(browser(app, "203.0.113.66"), path, {})
    done = submit(owner, path, {})
    assert "Compte débloqué sur cet appareil" in text(done) and device_cookie(done)
    assert 'href="/reinitialisation"' in done.get_data(as_text=True)
    again = identify(owner, "reinitialisation", account["login"], account["password"])
    assert again.request.path == "/reinitialisation/cgu"
    attacker = browser(app, "203.0.113.66")
    assert identify(attacker, "reinitialisation", account["login"], WRONG).status_code == 429
    replay = late()
    assert "Lien déjà utilisé" in text(replay) and not device_cookie(replay), "used once"


def test_unblocking_is_asked_on_one_page_whoever_asks(app, accounts, deliver):
    """The answer must not tell which logins exist or have a verified address."""
    with_address = accounts.create(
        "active", password=PASSWORD, backup_mail=BACKUP, backup_verified=True
    )
    without = accounts.create("pending")
    pages = []
    for login in (with_address["login"], without["login"], "personne.inconnue"):
        response = submit(app.test_client(), "/deblocage", {"login": login})
        pages.append((response.status_code, text(response)))
    assert len(set(pages)) == 1
    [message] = deliver(1)
    assert message["To"] == BACKUP and with_address["login"] in message.as_string()


def test_the_schools_reset_lifts_the_lock(app, accounts, settings, stack):
    """A pending pupil with no verified address and no earlier success can be held back by
    anyone knowing the login; the school's `ent-idp reset` is their way out, at once."""
    account = accounts.create("pending")
    burn(app, account)
    env = environment(
        settings,
        ADMIN_BIND_DN=stack.slapd.admin_dn,
        ADMIN_BIND_PASSWORD=stack.slapd.admin_password,
    )
    result = CliRunner().invoke(main, ["reset", account["login"]], env=env)
    assert result.exit_code == 0, result.output
    [password] = PROVISIONAL.findall(result.stdout)
    owner = browser(app, "198.51.100.20")
    assert identify(owner, "activation", account["login"], password).request.path.endswith("/cgu")


def test_every_new_key_expires(app, accounts, deliver, stack):
    """Counters, guards, device buckets, unblocking requests and notes all go away by
    themselves: nothing in Redis grows without bound."""
    account = accounts.create("reset", backup_mail=BACKUP, backup_verified=True)
    owner = browser(app, "2001:db8::20")
    identify(owner, "reinitialisation", account["login"], account["password"])
    identify(owner, "reinitialisation", account["login"], WRONG)
    burn(app, account, kind="reinitialisation")
    identify(app.test_client(), "activation", "personne.inconnue", WRONG)
    submit(owner, "/deblocage", {"login": account["login"]})
    owner.get("/", headers={"X-Forwarded-For": "198.51.100.1"})
    redis = store_of(app).redis
    keys = [
        key
        for pattern in ("ent-idp:throttle:*", "ent-idp:unlock:*", "ent-idp:untrusted-forwarded")
        for key in redis.scan_iter(pattern)
    ]
    assert len(keys) > 10
    assert {key: redis.ttl(key) for key in keys if redis.ttl(key) <= 0} == {}


@pytest.fixture
def cas_app(settings, cas_server):
    from ent_idp import create_app

    app = create_app({**settings, "CAS_URL": cas_server.url})
    store_of(app).redis.flushdb()
    yield app
    resources_of(app).close()


def test_mon_compte_checks_the_password_in_the_logged_in_browsers_bucket(
    cas_app, cas_server, accounts
):
    """Someone failing on /conditions with a pupil's login must not stop the pupil, logged
    in through CAS (which still lets them in: nothing locked the entry), from changing
    their password on « Mon compte »."""
    account = accounts.create(
        "active",
        password=PASSWORD,
        backup_mail=BACKUP,
        backup_verified=True,
        cgu_version=CGU_VERSION,
    )
    burn(cas_app, account, kind="conditions")
    owner = cas_app.test_client()
    service = parse_qs(urlsplit(owner.get("/compte").location).query)["service"][0]
    ticket = cas_login(cas_server.url, service, account["login"], PASSWORD)
    assert "Mon compte" in text(owner.get(f"/compte?ticket={ticket}", follow_redirects=True))
    new = "Tr0mbone-Vert-Soleil!"
    fields = {"mdp-current": PASSWORD, "mdp-password": new, "mdp-confirm": new}
    response = submit(owner, "/compte", fields, action="/compte/mot-de-passe")
    assert "Votre mot de passe a été changé" in text(response)
    assert accounts.binds(account["dn"], new)
