"""An admin reset voids every link, and old links are never revived.

Schools reset an account when it was taken over, its owner changed, or its mailbox was lost:
whoever held it may have set the backup address and have links waiting in that mailbox. So
a reset voids every outstanding link of the account (validation, address change,
« Mot de passe oublié »), takes the address's verification and the forwarding away in the
same directory write, and « Recevoir un nouveau lien » renews only an expired link that is
still the account's latest and whose address is still in place. Tokens are issued atomically:
two links asked at the same moment leave exactly one valid.
"""

from __future__ import annotations

import threading

import pytest

from ent_idp.core import notices as activation
from ent_idp.domain import my_account as account_ops
from ent_idp.domain.forgotten_password import PURPOSE as RESET_LINK
from ent_idp.store import TokenPurpose, TokenStatus

from .conftest import CGU_VERSION, resources_of, store_of
from .pages import csrf_token, go_through, link_in, submit, text
from .test_admin_cli import cli  # noqa: F401 (the fixture running ent-idp)
from .test_faults import stopped

VALIDATION = TokenPurpose.VALIDATION

pytestmark = pytest.mark.security

PASSWORD = "Deja-Actif-2026!"
ADDRESS = "emma.perso@example.net"


def local(url: str) -> str:
    return url.removeprefix("http://ent-idp.test")


def expire(app, path: str) -> None:
    """Move the link's expiry into the past, as 48 hours would."""
    s = store_of(app)
    s.redis.hset(s.tokens._key(path.rsplit("/", 1)[1]), "expires", "0")


def ask_new_link(client, path: str, page: str = "/mot-de-passe-oublie"):
    """POST « Recevoir un nouveau lien » for ``path`` (with a CSRF token from ``page``)."""
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(f"{path}/nouveau-lien", data={"csrf_token": token})


@pytest.fixture
def verified(accounts):
    """An active account whose backup address is verified, with forwarding on."""
    return accounts.create(
        "active",
        password=PASSWORD,
        backup_mail=ADDRESS,
        backup_verified=True,
        cgu_version=CGU_VERSION,
        forward=True,
    )


def test_two_links_asked_at_once_leave_exactly_one_valid(app, accounts):
    """Issuing reads nothing outside its script: of concurrent issues (two tabs, a resend
    and a change of address at once), all but one token are superseded."""
    account = accounts.create("active")
    tokens = store_of(app).tokens
    barrier = threading.Barrier(12)
    issued = []

    def issue():
        barrier.wait()
        issued.append(
            tokens.issue(VALIDATION, dn=account["dn"], address=ADDRESS, login="emma", lifetime=3600)
        )

    threads = [threading.Thread(target=issue) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(tokens.peek(token, VALIDATION).status.value for token in issued)
    assert statuses == ["superseded"] * 11 + ["valid"]


def test_a_reset_voids_every_outstanding_link_even_expired_ones(cli, app, accounts):  # noqa: F811
    """Every token of the account is voided, of every purpose, an expired one too: otherwise
    « Recevoir un nouveau lien » would bring it back after the reset."""
    account = accounts.create("active", backup_mail=ADDRESS)
    tokens = store_of(app).tokens
    expired = tokens.issue(VALIDATION, dn=account["dn"], address=ADDRESS, login="e", lifetime=-1)
    live = tokens.issue(RESET_LINK, dn=account["dn"], address=ADDRESS, login="e", lifetime=3600)
    assert tokens.peek(expired, VALIDATION).status is TokenStatus.EXPIRED
    result = cli("reset", account["login"])
    assert result.exit_code == 0, result.output
    assert tokens.peek(expired, VALIDATION).status is TokenStatus.VOIDED
    assert tokens.peek(live, RESET_LINK).status is TokenStatus.VOIDED


def test_a_link_recorded_by_the_previous_version_is_voided_too(app, accounts):
    """Links mailed before an upgrade were recorded under a single "latest" pointer: a
    reset after the upgrade still voids them."""
    account = accounts.create("active", backup_mail=ADDRESS)
    s = store_of(app)
    token = "a-link-mailed-by-the-previous-version"
    key = s.tokens._key(token)
    s.redis.hset(
        key,
        mapping={
            "purpose": VALIDATION,
            "dn": account["dn"],
            "address": ADDRESS,
            "login": "e",
            "expires": "9999999999",
        },
    )
    s.redis.set(s.tokens._account_keys(VALIDATION, account["dn"])[1], key)
    assert s.tokens.peek(token, VALIDATION).status is TokenStatus.VALID
    assert s.tokens.void(VALIDATION, account["dn"]) == 1
    assert s.tokens.peek(token, VALIDATION).status is TokenStatus.VOIDED


def test_a_reset_stops_forwarding_and_unverifies_the_address(
    cli,  # noqa: F811
    client,
    verified,
    accounts,
    deliver,
):
    """The address may be the previous holder's: nothing is forwarded to it, and it cannot
    receive « Mot de passe oublié » links, until its owner verifies it again. It stays as
    the form's suggestion, and the forwarding wish as the checkbox's."""
    assert accounts.read(verified["dn"])["mailroutingaddress"] == [ADDRESS.encode()]
    result = cli("reset", verified["login"])
    assert result.exit_code == 0, result.output
    provisional = result.stdout.split("\t")[1].strip()
    entry = accounts.read(verified["dn"])
    assert "mailroutingaddress" not in entry, "forwarding stopped"
    assert "entidpbackupmailverifiedtime" not in entry
    assert entry["entidpbackupmail"] == [ADDRESS.encode()]
    assert entry["entidpmailforward"] == [b"TRUE"]

    submit(client, "/mot-de-passe-oublie", {"login": verified["login"]})
    assert deliver() == [], "no « Mot de passe oublié » link to an unverified address"

    login = {"login": verified["login"], "password": provisional}
    done = go_through(client, "reinitialisation", login, backup_mail=ADDRESS, forward=True)
    assert "Un message a été envoyé" in text(done), "the address is verified again by a link"
    assert "mailroutingaddress" not in accounts.read(verified["dn"])
    [message] = deliver(1)
    assert "Adresse validée" in text(submit(client, local(link_in(message)), {}))
    assert accounts.read(verified["dn"])["mailroutingaddress"] == [ADDRESS.encode()]


def test_a_reset_voids_a_pending_change_of_address(
    cli,  # noqa: F811
    app,
    client,
    verified,
    accounts,
    deliver,
):
    """A change asked from « Mon compte » before the reset must not complete after it."""
    with app.test_request_context():
        account = resources_of(app).directory.find(verified["login"])
        ent = resources_of(app).settings.default_ent
        account_ops.request_backup_change(
            ent, account, verified["password"], "nouvelle.adresse@example.net"
        )
    # The link to the new address, and the notice to the verified one in place.
    [message] = [m for m in deliver(2) if m["To"] == "nouvelle.adresse@example.net"]
    path = local(link_in(message))
    result = cli("reset", verified["login"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert store_of(app).pending_addresses.get(verified["dn"]) is None
    page = text(client.get(path))
    assert "Lien annulé" in page and "Valider mon adresse" not in page
    token = csrf_token(client.get("/mot-de-passe-oublie").get_data(as_text=True))
    assert "Lien annulé" in text(client.post(path, data={"csrf_token": token}))
    assert "Lien annulé" in text(ask_new_link(client, path))
    assert accounts.read(verified["dn"])["entidpbackupmail"] == [ADDRESS.encode()]
    assert len(deliver()) == 2, "no new link for a voided one"


@pytest.mark.faults
def test_with_redis_down_during_the_reset_old_links_still_fail(
    cli,  # noqa: F811
    app,
    client,
    accounts,
    stack,
    deliver,
):
    """If the links cannot be voided (Redis down while the admin resets), the directory
    still refuses them: a link cannot verify an address on an account being reset."""
    account = accounts.create("pending")
    go_through(client, "activation", account)
    [message] = deliver(1)
    path = local(link_in(message))
    with stopped(stack.redis):
        result = cli("reset", account["login"])
    assert result.exit_code == 0, result.output
    assert "could not be voided" in result.stderr
    assert "Valider mon adresse" in text(client.get(path)), "Redis could not void it"
    response = submit(client, path, {})
    assert "Adresse validée" not in text(response)
    assert "entidpbackupmailverifiedtime" not in accounts.read(account["dn"])


# -- « Recevoir un nouveau lien » ------------------------------------------------------


def activated(client, accounts, deliver) -> tuple[dict, str]:
    account = accounts.create("pending")
    go_through(client, "activation", account)
    [message] = deliver(1)
    return account, local(link_in(message))


def test_only_an_expired_latest_link_is_renewed(app, client, accounts, deliver):
    """The one case a new link is due: the link ran out of time before it was used."""
    _, path = activated(client, accounts, deliver)
    expire(app, path)
    response = ask_new_link(client, path)
    assert "Nouveau lien envoyé" in text(response)
    assert len(deliver(2)) == 2


def test_a_used_link_is_not_renewed(app, client, accounts, deliver):
    """A used link has done its work; asking with it again sends nothing."""
    _, path = activated(client, accounts, deliver)
    submit(client, path, {})
    page = text(client.get(path))
    assert "Lien déjà utilisé" in page and "Recevoir un nouveau lien" not in page
    expire(app, path)
    response = text(ask_new_link(client, path))
    assert "Lien déjà utilisé" in response and "Mon compte" in response
    assert len(deliver()) == 1


def test_a_superseded_link_is_not_renewed(app, client, accounts, deliver):
    """Renewing an old link would void the newer one the user may be about to click."""
    account, path = activated(client, accounts, deliver)
    with app.test_request_context():
        ent = resources_of(app).settings.default_ent
        activation.send_validation(ent, account["dn"], account["login"], ADDRESS)
    expire(app, path)
    page = text(client.get(path))
    assert "Lien remplacé" in page and "message le plus récent" in page
    assert "Recevoir un nouveau lien" not in page
    assert "Lien remplacé" in text(ask_new_link(client, path))
    [_, newest] = deliver(2)
    assert "Valider mon adresse" in text(client.get(local(link_in(newest)))), "still valid"


def test_an_expired_link_whose_address_changed_is_not_renewed(app, client, accounts, deliver):
    """The address the link was for is no longer the account's: no mail goes to it."""
    account, path = activated(client, accounts, deliver)
    expire(app, path)
    admin = accounts.slapd.admin_connection()
    admin.modify(account["dn"], {"entIdpBackupMail": [("MODIFY_REPLACE", ["autre@example.net"])]})
    admin.unbind()
    assert "Adresse modifiée" in text(ask_new_link(client, path))
    assert len(deliver()) == 1


def test_a_voided_password_reset_link_says_so(cli, app, client, verified, deliver):  # noqa: F811
    """« Mot de passe oublié » links mailed before a reset stop working, and say why."""
    submit(client, "/mot-de-passe-oublie", {"login": verified["login"]})
    [message] = deliver(1)
    path = local(link_in(message, "mot-de-passe-oublie/lien"))
    assert cli("reset", verified["login"]).exit_code == 0
    assert "Lien annulé" in text(client.get(path))
    token = csrf_token(client.get("/mot-de-passe-oublie").get_data(as_text=True))
    assert "Lien annulé" in text(client.post(path, data={"csrf_token": token}))
    assert client.get("/mot-de-passe-oublie/nouveau").status_code == 302, "no flow opened"


def test_import_reset_active_voids_and_clears_the_same_way(cli, app, verified, accounts, tmp_path):  # noqa: F811
    """``import --reset-active`` resets through the same code: links voided, forwarding
    stopped, the address unverified."""
    tokens = store_of(app).tokens
    token = tokens.issue(RESET_LINK, dn=verified["dn"], address=ADDRESS, login="e", lifetime=600)
    export = tmp_path / "export.csv"
    export.write_text(
        "login;first_name;last_name;class;mail\n"
        f"{verified['login']};Emma;Durand;2nde 1;{verified['mail']}\n"
    )
    result = cli("import", "--reset-active", str(export))
    assert result.exit_code == 0, result.output
    assert f"{verified['login']}\treset" in result.stderr
    entry = accounts.read(verified["dn"])
    assert "mailroutingaddress" not in entry and "entidpbackupmailverifiedtime" not in entry
    assert tokens.peek(token, RESET_LINK).status is TokenStatus.VOIDED
