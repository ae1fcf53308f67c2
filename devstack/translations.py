"""The message catalogues: ``make translations-extract`` and ``make translations-compile``.

French is the source language: the texts in ``templates/`` and ``ent_idp/`` are the msgids.
``extract`` collects them into ``ent_idp/translations/messages.pot`` and merges that into each
language's ``messages.po`` (a changed text comes back fuzzy, a new one empty: translate them);
``compile`` turns each ``.po`` into the ``messages.mo`` the app reads, which is committed so
that a checkout, ``make demo``, ``make test`` and ``pip install .`` all have it.
``tests/test_translations.py`` fails while a catalogue is incomplete or out of date.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = ROOT / "ent_idp" / "translations"
TEMPLATE = CATALOGUES / "messages.pot"
KEYWORDS = "_l lazy_gettext lazy_ngettext:1,2"
# Folders never holding the app's text (pybabel matches each folder's own name).
IGNORED = ".* ._ build dist var tests bench devstack config ldap_schema node_modules *.egg-info"


def _pybabel(*args: str) -> None:
    with contextlib.chdir(ROOT):  # locations in the catalogues relative to the checkout
        CommandLineInterface().run(["pybabel", "--quiet", *args])


def messages(path: Path) -> set[tuple]:
    """What a catalogue asks to translate: (msgid, plural, context) of each message."""
    with path.open("rb") as fh:
        catalog = read_po(fh)
    return {(_ids(m.id) + (m.context,)) for m in catalog if m.id}


def _ids(msgid: str | tuple) -> tuple:
    return tuple(msgid) if isinstance(msgid, tuple | list) else (msgid, None)


def extract(output: Path = TEMPLATE) -> None:
    """Collect the msgids of the sources into ``output``; the old file stays if they match."""
    fresh = output.with_suffix(".new")
    _pybabel(
        "extract",
        "--mapping-file=babel.cfg",
        f"--keywords={KEYWORDS}",
        "--add-comments=TRANSLATORS:",
        f"--ignore-dirs={IGNORED}",
        "--project=ent-idp",
        "--copyright-holder=ent-idp contributors",
        f"--output-file={fresh}",
        ".",
    )
    if output.exists() and _same_messages(fresh, output):
        fresh.unlink()  # nothing new: no diff made of a creation date
    else:
        fresh.replace(output)


def _same_messages(a: Path, b: Path) -> bool:
    def entries(path: Path) -> list[tuple]:
        with path.open("rb") as fh:
            return [(m.id, m.context, m.locations, m.auto_comments) for m in read_po(fh) if m.id]

    return entries(a) == entries(b)


def update() -> None:
    """Merge the template into every language's catalogue."""
    _pybabel(
        "update",
        f"--input-file={TEMPLATE}",
        f"--output-dir={CATALOGUES}",
        "--ignore-obsolete",
        "--previous",
    )


def compile_all() -> None:
    _pybabel("compile", f"--directory={CATALOGUES}", "--statistics")


def main(argv: list[str]) -> int:
    commands = {"extract": (extract, update), "compile": (compile_all,)}
    if len(argv) != 1 or argv[0] not in commands:
        print(f"usage: python -m devstack.translations {'|'.join(commands)}", file=sys.stderr)
        return 2
    for step in commands[argv[0]]:
        step()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
