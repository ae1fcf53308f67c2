"""The admins' command line: reset, import, status, check, against the real services.

Each command runs through click's CliRunner with its settings in ``ENT_IDP_*`` variables,
as an admin's shell would give them; the admin account is the test slapd's rootdn.
"""

from __future__ import annotations

import csv
import re
import secrets
from pathlib import Path

import ldap3
import pytest
from click.testing import CliRunner

from devstack.ports import free_port
from devstack.slapd import Slapd
from ent_idp.cli import main
from ent_idp.domain.admin import accounts as admin
from ent_idp.domain.forgotten_password import PURPOSE as RESET_LINK
from ent_idp.settings import DEFAULTS, flask_name
from ent_idp.store import TokenPurpose, TokenStatus

from .conftest import CGU_VERSION, store_of
from .pages import go_through, text

VALIDATION = TokenPurpose.VALIDATION

PROVISIONAL = re.compile(r"[a-km-np-z2-9]{5}-[a-km-np-z2-9]{5}-[a-km-np-z2-9]{5}")


def environment(settings: dict, **changes: str) -> dict[str, str | None]:
    """The settings as an admin's shell gives them: ENT_IDP_<NAME> variables."""
    known = {flask_name(section, key) for section, key in DEFAULTS}
    env: dict[str, str | None] = {"ENT_IDP_CONFIG": None}
    for name, value in {**settings, **changes}.items():
        if name not in known:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list):
            value = ",".join(value)
        env[f"ENT_IDP_{name}"] = str(value)
    return env


@pytest.fixture
def cli(settings, stack):
    """Run ``ent-idp ARGS`` with the test settings and the rootdn as admin account."""
    base = {
        **settings,
        "ADMIN_BIND_DN": stack.slapd.admin_dn,
        "ADMIN_BIND_PASSWORD": stack.slapd.admin_password,
    }

    def run(*args: str, **changes: str):
        return CliRunner().invoke(main, list(args), env=environment(base, **changes))

    return run


@pytest.fixture
def imported(accounts, stack):
    """Remove, after the test, the accounts an import created (login -> DN)."""
    created: list[str] = []
    yield created
    conn = stack.slapd.admin_connection()
    try:
        for login in created:
            conn.delete(stack.slapd.account_dn(login))
    finally:
        conn.unbind()


def pdf_pages(path: Path) -> int:
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", path.read_bytes()))


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


def test_provisional_passwords_have_no_look_alike_characters():
    """Read aloud and copied from paper: no 0/O, 1/l/I; at least 60 bits from secrets."""
    passwords = {admin.provisional_password() for _ in range(200)}
    assert len(passwords) == 200
    for password in passwords:
        assert PROVISIONAL.fullmatch(password), password
        assert not set(password) & set("0oO1lIi")
    assert admin.PASSWORD_BITS >= 60
    assert len(admin.ALPHABET) ** (admin.GROUPS * admin.GROUP_LENGTH) >= 2**60


# -- ent-idp reset ---------------------------------------------------------------------


@pytest.mark.security
def test_reset_gives_a_provisional_password_that_goes_through_reinitialisation(
    cli, client, accounts
):
    """An admin reset: a new provisional password (hashed by the directory), state reset,
    pwdReset TRUE; the old password stops working; « Mon compte a été réinitialisé » with it
    reaches « Compte activé »."""
    account = accounts.create(
        "active",
        "Ancien-Mot-De-Passe-2026!",
        cgu_version=CGU_VERSION,
        backup_mail="emma.perso@example.net",
        backup_verified=True,
    )
    result = cli("reset", account["login"])
    assert result.exit_code == 0, result.output
    login, password = result.stdout.rstrip("\n").split("\t")
    assert result.stdout == f"{account['login']}\t{password}\n", "stdout carries only that line"
    assert login == account["login"]
    assert PROVISIONAL.fullmatch(password)

    entry = accounts.read(account["dn"])
    assert entry["entidpaccountstate"] == [b"reset"]
    assert entry["pwdreset"] == [b"TRUE"]
    assert entry["userpassword"][0].startswith(b"{ARGON2}"), "hashed by the directory"
    assert accounts.binds(account["dn"], password)
    assert not accounts.binds(account["dn"], "Ancien-Mot-De-Passe-2026!")

    response = go_through(
        client, "reinitialisation", {"login": account["login"], "password": password}
    )
    assert "Compte activé" in text(response)
    assert accounts.read(account["dn"])["entidpaccountstate"] == [b"active"]


@pytest.mark.security
def test_reset_voids_the_links_mailed_before(cli, app, accounts):
    """A validation or « Mot de passe oublié » link sent before a reset no longer works:
    whoever held the account's mailbox then must not get it back."""
    account = accounts.create("active", backup_mail="emma.perso@example.net")
    tokens = store_of(app).tokens
    issued = {
        purpose: tokens.issue(
            purpose,
            dn=account["dn"],
            address="emma.perso@example.net",
            login=account["login"],
            lifetime=3600,
        )
        for purpose in (VALIDATION, RESET_LINK)
    }
    result = cli("reset", account["login"])
    assert result.exit_code == 0, result.output
    for purpose, token in issued.items():
        assert tokens.peek(token, purpose).status is TokenStatus.VOIDED, purpose


def test_reset_names_unknown_logins_and_still_resets_the_others(cli, accounts):
    account = accounts.create("active")
    result = cli("reset", "personne.inconnue", account["login"])
    assert result.exit_code == 1
    assert "personne.inconnue: unknown login" in result.stderr
    [line] = result.stdout.splitlines()
    assert line.startswith(account["login"] + "\t")
    assert accounts.read(account["dn"])["entidpaccountstate"] == [b"reset"]


def test_reset_of_a_pending_account_keeps_it_pending(cli, accounts):
    """Never activated: the letter still says « Activer mon compte »."""
    account = accounts.create("pending")
    result = cli("reset", account["login"])
    assert result.exit_code == 0, result.output
    password = result.stdout.split("\t")[1].strip()
    entry = accounts.read(account["dn"])
    assert entry["entidpaccountstate"] == [b"pending"]
    assert entry["pwdreset"] == [b"TRUE"]
    assert accounts.binds(account["dn"], password)
    assert not accounts.binds(account["dn"], account["password"])


def test_reset_writes_the_csv_and_the_letters(cli, accounts, tmp_path):
    first, second = accounts.create("active"), accounts.create("active")
    out_csv, out_pdf = tmp_path / "reset.csv", tmp_path / "reset.pdf"
    result = cli(
        "reset", first["login"], second["login"], "--csv", str(out_csv), "--letters", str(out_pdf)
    )
    assert result.exit_code == 0, result.output
    printed = dict(line.split("\t") for line in result.stdout.splitlines())
    rows = read_csv(out_csv)
    assert {row["login"]: row["provisional_password"] for row in rows} == printed
    assert out_pdf.read_bytes().startswith(b"%PDF")
    assert pdf_pages(out_pdf) == 2
    assert out_csv.stat().st_mode & 0o077 == 0, "files of passwords are the owner's only"


def test_reset_never_overwrites_a_file_of_passwords(cli, accounts, tmp_path):
    account = accounts.create("active")
    existing = tmp_path / "earlier.csv"
    existing.write_text("login;provisional_password\nsomeone;abcde-fghjk-mnpqr\n")
    result = cli("reset", account["login"], "--csv", str(existing))
    assert result.exit_code == 2
    assert "exists" in result.stderr
    assert "abcde-fghjk-mnpqr" in existing.read_text()
    assert accounts.read(account["dn"])["entidpaccountstate"] == [b"active"], "nothing done"


# -- ent-idp import --------------------------------------------------------------------


def school_export(tmp_path: Path, rows: list[str], name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_text("login;first_name;last_name;class;mail\n" + "\n".join(rows) + "\n")
    return path


def test_import_creates_pending_accounts_and_a_second_run_changes_nothing(
    cli, accounts, imported, tmp_path
):
    tag = secrets.token_hex(3)
    logins = [f"lea.roux{tag}", f"zoe.nguyen{tag}", f"marc.petit{tag}"]
    imported.extend(logins)
    export = school_export(
        tmp_path,
        [
            f"{logins[0]};Léa;Roux;2nde 3;{logins[0]}@ent.test",
            f"{logins[1]};Zoé;Nguyen;2nde 1;{logins[1]}@ent.test",
            f"{logins[2]};Marc;Petit;parent;{logins[2]}@ent.test",
        ],
    )
    out_csv, out_pdf = tmp_path / "passwords.csv", tmp_path / "letters.pdf"
    result = cli("import", str(export), "--csv", str(out_csv), "--letters", str(out_pdf))
    assert result.exit_code == 0, result.output
    assert result.stdout == "", "the passwords are in the files, not on the screen"
    for line, login in enumerate(logins, start=2):
        assert f"line {line}\t{login}\tcreated" in result.stderr
    assert "3 rows: 3 created, 0 reset, 0 unchanged, 0 error" in result.stderr

    rows = read_csv(out_csv)
    assert [row["login"] for row in rows] == [logins[1], logins[0], logins[2]], "by class"
    assert out_pdf.read_bytes().startswith(b"%PDF")
    assert pdf_pages(out_pdf) == 3
    for row in rows:
        dn = f"uid={row['login']},ou=people,dc=ent,dc=test"
        entry = accounts.read(dn)
        assert entry["entidpaccountstate"] == [b"pending"]
        assert entry["pwdreset"] == [b"TRUE"]
        assert entry["mail"] == [f"{row['login']}@ent.test".encode()]
        assert entry["userpassword"][0].startswith(b"{ARGON2}")
        assert accounts.binds(dn, row["provisional_password"])
    assert accounts.read(f"uid={logins[1]},ou=people,dc=ent,dc=test")["givenname"] == [
        "Zoé".encode()
    ]

    again = cli(
        "import", str(export), "--csv", str(tmp_path / "again.csv"), "--letters", str(out_pdf)
    )
    assert again.exit_code == 2, "an existing letters file is never overwritten"
    again = cli(
        "import",
        str(export),
        "--csv",
        str(tmp_path / "again.csv"),
        "--letters",
        str(tmp_path / "again.pdf"),
    )
    assert again.exit_code == 0, again.output
    assert "3 rows: 0 created, 0 reset, 3 unchanged, 0 error" in again.stderr
    assert not (tmp_path / "again.csv").exists() and not (tmp_path / "again.pdf").exists()
    for row in rows:  # the letters handed out after the first run still work
        dn = f"uid={row['login']},ou=people,dc=ent,dc=test"
        assert accounts.binds(dn, row["provisional_password"])


def test_import_reports_bad_rows_and_leaves_active_accounts_alone(
    cli, accounts, imported, tmp_path
):
    active = accounts.create("active", "Actif-Depuis-2025!")
    tag = secrets.token_hex(3)
    good = f"hugo.blanc{tag}"
    imported.append(good)
    export = school_export(
        tmp_path,
        [
            f"{active['login']};Emma;Durand;2nde 1;{active['mail']}",
            "bad login!;X;Y;2nde 1;x@ent.test",
            f"{good};Hugo;Blanc;2nde 1;{good}@ent.test",
            f"{good};Hugo;Blanc;2nde 2;{good}@ent.test",
            f"no.mail{tag};Ana;Lopes;2nde 1;",
        ],
    )
    result = cli("import", str(export))
    assert result.exit_code == 1, "a row failed"
    assert f"line 2\t{active['login']}\tunchanged: active" in result.stderr
    assert "line 3\tbad login!\terror: login 'bad login!'" in result.stderr
    assert f"line 4\t{good}\tcreated" in result.stderr
    assert f"line 5\t{good}\terror: login also on line 4" in result.stderr
    assert f"line 6\tno.mail{tag}\terror: ENT address '' is not an e-mail address" in result.stderr
    [line] = result.stdout.splitlines()  # without --csv nor --letters: on stdout
    assert line.startswith(f"{good}\t")
    assert accounts.binds(active["dn"], "Actif-Depuis-2025!"), "the active account is untouched"

    result = cli(
        "import", "--reset-active", str(school_export(tmp_path, [result_row(active)], "2"))
    )
    assert result.exit_code == 0, result.output
    assert f"line 2\t{active['login']}\treset" in result.stderr
    assert accounts.read(active["dn"])["entidpaccountstate"] == [b"reset"]
    assert accounts.binds(active["dn"], result.stdout.split("\t")[1].strip())


def result_row(account: dict) -> str:
    return f"{account['login']};Emma;Durand;2nde 1;{account['mail']}"


def test_import_names_the_missing_columns(cli, tmp_path):
    export = tmp_path / "export.csv"
    export.write_text("nom;prenom\nMartin;Alice\n")
    result = cli("import", str(export))
    assert result.exit_code == 1
    assert "no column login, mail" in result.stderr


# -- ent-idp status --------------------------------------------------------------------


def test_status_shows_state_cgu_backup_address_and_times(cli, accounts):
    account = accounts.create(
        "active",
        cgu_version="2024-09",
        backup_mail="emma.perso@example.net",
        backup_verified=True,
        forward=True,
    )
    result = cli("status", account["login"])
    assert result.exit_code == 0, result.output
    lines = dict(re.split(r":\s+", line, maxsplit=1) for line in result.stdout.splitlines())
    assert lines["state"] == "active (active)"
    assert lines["CGU version"] == (
        f"2024-09 (accepted 2025-09-01 08:00:00 UTC); current version {CGU_VERSION}"
    )
    assert lines["backup address"] == "emma.perso@example.net (verified 2025-09-01 08:00:00 UTC)"
    assert lines["forwarding"] == "wished, active to emma.perso@example.net"
    assert lines["must change password"] == "no"
    assert lines["password changed"] == "never"

    result = cli("status", "personne.inconnue")
    assert result.exit_code == 1
    assert "unknown login 'personne.inconnue'" in result.stderr


# -- ent-idp check ---------------------------------------------------------------------


@pytest.mark.security
def test_check_passes_on_the_test_stack(cli, app, stack):
    """The readiness check tries every right the service account must (not) have, and the
    directory's hashing, on a disposable entry it deletes afterwards."""
    result = cli("check")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "ok    configuration"
    assert all(line.startswith("ok    ") for line in lines), result.stdout
    for check in (
        "the schema defines",
        "service account writes the ent-idp attributes",
        "service account reads accounts, not password hashes",
        "service account is not a password administrator",
        "the directory hashes cleartext passwords",
        "Redis: reachable",
        "SMTP: ",
    ):
        assert check in result.stdout
    conn = stack.slapd.admin_connection()
    try:
        conn.search(stack.slapd.people_dn, "(uid=ent-idp-check-*)")
        assert conn.entries == [], "the disposable entry is gone"
    finally:
        conn.unbind()


@pytest.mark.security
def test_check_fails_when_the_service_account_lacks_a_right(cli, stack):
    """A service account without write on the ent-idp attributes is named as such."""
    dn = f"cn=bare-{secrets.token_hex(3)},ou=services,{stack.slapd.suffix}"
    password = secrets.token_urlsafe(16)
    conn = stack.slapd.admin_connection()
    try:
        assert conn.add(
            dn,
            ["applicationProcess", "simpleSecurityObject"],
            {"userPassword": password},
        ), conn.result
        result = cli("check", LDAP_BIND_DN=dn, LDAP_BIND_PASSWORD=password)
    finally:
        conn.delete(dn)
        conn.unbind()
    assert result.exit_code == 1
    assert (
        "FAIL  LDAP: service account writes the ent-idp attributes: it cannot write "
        "entIdpAccountState (insufficientAccessRights)"
    ) in result.stdout
    assert "FAIL  LDAP: service account reads accounts" in result.stdout


@pytest.fixture(scope="module")
def cleartext_slapd(tmp_path_factory):
    """A second slapd built the same way, then told to keep cleartext passwords as given."""
    slapd = Slapd(
        tmp_path_factory.mktemp("cleartext-slapd"),
        free_port(),
        service_password=secrets.token_urlsafe(16),
    )
    slapd.start()
    try:
        conn = slapd.connection(slapd.config_admin_dn, slapd.admin_password)
        try:
            conn.search("cn=config", "(objectClass=olcPPolicyConfig)")
            [overlay] = conn.entries
            assert conn.modify(
                overlay.entry_dn,
                {"olcPPolicyHashCleartext": [(ldap3.MODIFY_REPLACE, ["FALSE"])]},
            ), conn.result
        finally:
            conn.unbind()
        yield slapd
    finally:
        slapd.stop()


@pytest.mark.security
def test_check_fails_when_the_directory_would_store_a_cleartext_password(cli, cleartext_slapd):
    """ent-idp writes new passwords in clear for the directory to hash: a directory that
    does not hash them (olcPPolicyHashCleartext off) must fail the readiness check."""
    slapd = cleartext_slapd
    result = cli(
        "check",
        LDAP_URL=slapd.url,
        LDAP_BIND_DN=slapd.service_dn,
        LDAP_BIND_PASSWORD=slapd.service_password,
        LDAP_PEOPLE_DN=slapd.people_dn,
        ADMIN_BIND_DN=slapd.admin_dn,
        ADMIN_BIND_PASSWORD=slapd.admin_password,
    )
    assert result.exit_code == 1
    assert (
        "FAIL  LDAP: the directory hashes cleartext passwords: the directory stored the "
        "password in clear"
    ) in result.stdout
    assert "ok    LDAP: service account writes the ent-idp attributes" in result.stdout


def test_check_names_a_configuration_error(cli):
    result = cli("check", SECRET_KEY="short")
    assert result.exit_code == 1
    assert result.stdout.startswith("FAIL  configuration: ")
    assert "secret_key" in result.stdout
