"""The files of provisional passwords handed to schools: ``--csv`` and ``--letters``.

They are created (new, mode 0600, never over an existing file) before the first directory
write, so a bad path or a full disk found at that moment fails before any password changes.
If writing them fails afterwards, the passwords are in force and exist nowhere else: the
caller prints them (``HandoutError``). A file that ends up empty, or half written, is removed.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, TextIO

from .accounts import Issued, Report
from .letters import Context, write_letters

CSV_COLUMNS = ("login", "first_name", "last_name", "class", "mail", "provisional_password")


def for_distribution(reports: Iterable[Report]) -> list[Issued]:
    """The passwords handed out, in the order to distribute them: class, name."""
    issued = [report.issued for report in reports if report.issued is not None]
    return sorted(issued, key=lambda i: (i.group.lower(), i.last_name.lower(), i.first_name))


# A cell starting with one of these is a formula to a spreadsheet (=HYPERLINK(...), +, -,
# @, and the tab and carriage return that some of them skip first): it gets a leading
# apostrophe, so a name in a school's export cannot run anything (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: str) -> str:
    """``value`` as a spreadsheet shows text, never as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def write_csv(out: TextIO, issued: list[Issued]) -> None:
    """The provisional passwords, ``;``-separated UTF-8 with a BOM (Excel opens it as is).

    ``out`` is opened by ``handouts``: new, readable by its owner only.
    """
    writer = csv.writer(out, delimiter=";")
    writer.writerow(CSV_COLUMNS)
    for i in issued:
        row = (i.login, i.first_name, i.last_name, i.group, i.mail, i.password)
        writer.writerow([spreadsheet_text(cell) for cell in row])


class HandoutError(Exception):
    """A file of passwords cannot be created or written; the message names it and why."""


@dataclass
class Handouts:
    csv_path: str | None
    letters_path: str | None
    _open: dict[str, IO] = field(default_factory=dict)
    _written: set[str] = field(default_factory=set)

    @classmethod
    def create(cls, csv_path: str | None, letters_path: str | None) -> Handouts:
        """Both files, new and readable by their owner only; HandoutError otherwise."""
        handouts = cls(csv_path, letters_path)
        try:
            for path, mode in ((csv_path, "w"), (letters_path, "wb")):
                if path:
                    handouts._open[path] = _private_file(path, mode)
        except HandoutError:
            handouts.close()
            raise
        return handouts

    def write(self, issued: list[Issued], context_for: Callable[[Issued], Context]) -> list[str]:
        """Write the passwords; returns the paths written. HandoutError names the first
        that failed (the ones before it are complete; it is removed)."""
        done = []
        for path, write in (
            (self.csv_path, lambda out: write_csv(out, issued)),
            (self.letters_path, lambda out: write_letters(out, issued, context_for)),
        ):
            if not path:
                continue
            out = self._open[path]
            try:
                write(out)
                out.flush()
                os.fsync(out.fileno())  # a full disk shows here, not after we said "wrote"
            except OSError as exc:
                raise HandoutError(f"cannot write {path}: {exc.strerror or exc}") from None
            self._written.add(path)
            done.append(path)
        return done

    def close(self) -> None:
        """Close the files; remove those not completely written (nothing to hand out)."""
        for path, out in self._open.items():
            try:
                out.close()
            except OSError:
                self._written.discard(path)
            if path not in self._written:
                try:
                    os.unlink(path)
                except OSError:
                    pass
        self._open.clear()

    def __enter__(self) -> Handouts:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _private_file(path: str, mode: str) -> IO:
    """A new file, mode 0600 from the start (never a moment readable by others)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise HandoutError(
            f"{path} exists: it may hold passwords not handed out yet; "
            "choose another name or move it away"
        ) from None
    except OSError as exc:
        raise HandoutError(f"cannot create {path}: {exc.strerror or exc}") from None
    if "b" in mode:
        return os.fdopen(fd, mode)
    return os.fdopen(fd, mode, newline="", encoding="utf-8-sig")
