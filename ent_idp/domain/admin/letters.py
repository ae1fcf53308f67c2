"""Printable letters: one A4 page per user with their login and provisional password.

Schools print them and hand them out class by class. Each page carries its user's ENT's
name and address (``Context``, one per ENT: ``context_for``) and, in short, the steps of
the activation guide. The file is readable by its owner only
(``handouts`` creates it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from .accounts import Issued

if TYPE_CHECKING:  # fpdf2 is imported when letters are written: ent-idp serve never loads it
    from fpdf import FPDF

# Debian's fonts-dejavu-core: every script a name may be written in. Without it, the PDF
# core font (Latin-1 only) is used and other characters become "?".
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


@dataclass(frozen=True)
class Context:
    ent_name: str
    ent_url: str  # where users start: the ENT's portal (its CAS login page links here)
    public_url: str  # ent-idp itself, for the direct link
    validation_hours: int
    min_length: int


def steps(issued: Issued, context: Context) -> list[str]:
    """The guide in short, for an account to activate or one that was reset."""
    button = (
        "« Activer mon compte »"
        if issued.flow.is_activation
        else "« Mon compte a été réinitialisé »"
    )
    return [
        f"Allez sur {context.ent_url} et cliquez sur {button} "
        f"(ou ouvrez directement {context.public_url}{issued.flow}).",
        "Saisissez votre identifiant et le mot de passe provisoire ci-dessus.",
        "Lisez et acceptez les Conditions Générales d'Utilisation.",
        "Donnez une adresse de messagerie personnelle, deux fois : elle vous servira si vous "
        "perdez votre mot de passe. Un lien pour la valider y sera envoyé ; il est valable "
        f"{context.validation_hours} heures.",
        f"Choisissez votre mot de passe (au moins {context.min_length} caractères) et "
        "tapez-le deux fois.",
        "Cliquez sur « Accès ENT » et connectez-vous avec votre identifiant et votre nouveau "
        "mot de passe.",
    ]


def write_letters(
    out: BinaryIO, letters: list[Issued], context_for: Callable[[Issued], Context]
) -> None:
    """The PDF, into ``out`` (opened by ``handouts``: new, readable by its owner only)."""
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # a line per table it subsets
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(False)
    names = list(dict.fromkeys(context_for(issued).ent_name for issued in letters))
    pdf.set_title(f"{', '.join(names) or 'ENT'} : mots de passe provisoires")
    sans, mono = _fonts(pdf)
    wrapped: dict[tuple, list[str]] = {}  # the same steps on every page: break lines once
    for issued in letters:
        pdf.add_page()
        _letter(pdf, issued, context_for(issued), sans, mono, wrapped)
    out.write(bytes(pdf.output()))


def _fonts(pdf: FPDF) -> tuple[str, str]:
    if (DEJAVU / "DejaVuSans.ttf").is_file() and (DEJAVU / "DejaVuSansMono.ttf").is_file():
        pdf.add_font("sans", "", str(DEJAVU / "DejaVuSans.ttf"))
        pdf.add_font("sans", "B", str(DEJAVU / "DejaVuSans-Bold.ttf"))
        pdf.add_font("mono", "", str(DEJAVU / "DejaVuSansMono.ttf"))
        return "sans", "mono"
    return "helvetica", "courier"


def _letter(
    pdf: FPDF, issued: Issued, context: Context, sans: str, mono: str, wrapped: dict
) -> None:
    text = _text_for(sans)
    width = pdf.epw

    def paragraph(width: float, height: float, value: str) -> None:
        """Like multi_cell, 4 times faster: lines broken once per text, drawn with text()."""
        key = (value, pdf.font_family, pdf.font_style, pdf.font_size_pt, width)
        if key not in wrapped:
            wrapped[key] = pdf.multi_cell(width, height, value, dry_run=True, output="LINES")
        x, y = pdf.get_x(), pdf.get_y()
        for line in wrapped[key]:
            pdf.text(x, y + (height + pdf.font_size * 0.7) / 2, line)
            y += height
        pdf.set_xy(pdf.l_margin, y)

    pdf.set_font(sans, "B", 18)
    paragraph(width, 9, text(f"{context.ent_name} : votre compte"))
    pdf.ln(4)
    pdf.set_font(sans, "", 12)
    name = f"{issued.first_name} {issued.last_name}".strip()
    paragraph(width, 7, text(name + (f" — {issued.group}" if issued.group else "")))
    pdf.ln(6)
    for label, value in (
        ("Identifiant", issued.login),
        ("Mot de passe provisoire", issued.password),
    ):
        pdf.set_font(sans, "", 11)
        paragraph(width, 6, text(label))
        pdf.set_font(mono, "", 20)
        pdf.cell(width, 11, text(value), border=1, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    pdf.set_font(sans, "", 11)
    paragraph(width, 6, text(f"Adresse de l'ENT : {context.ent_url}"))
    pdf.ln(6)
    pdf.set_font(sans, "B", 13)
    if issued.flow.is_activation:
        title = "Activer votre compte"
    else:
        title = "Votre compte a été réinitialisé"
    paragraph(width, 7, text(title))
    pdf.ln(2)
    pdf.set_font(sans, "", 11)
    for number, step in enumerate(steps(issued, context), start=1):
        pdf.text(pdf.l_margin, pdf.get_y() + (6 + pdf.font_size * 0.7) / 2, f"{number}.")
        pdf.set_x(pdf.l_margin + 8)
        paragraph(width - 8, 6, text(step))
        pdf.ln(1.5)
    pdf.ln(6)
    pdf.set_font(sans, "", 10)
    paragraph(
        width,
        5,
        text(
            "Le mot de passe provisoire ne sert qu'une fois : ne le communiquez à personne. "
            "Gardez ce courrier jusqu'à l'activation de votre compte, puis détruisez-le."
        ),
    )


def _text_for(font: str):
    """The PDF core fonts know Latin-1 only: anything else becomes "?" there."""
    if font == "sans":
        return lambda value: value
    return lambda value: value.encode("latin-1", "replace").decode("latin-1")
