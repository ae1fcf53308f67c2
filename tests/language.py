"""Reading a page or a mail as a user does, and finding text of the other language in it.

What a user reads: the text of the page and the attributes a browser shows or speaks
(``title``, ``alt``, ``aria-label``, ``placeholder``, a button's ``value``). An element
marked with another ``lang`` than the page's is a declared exception (the language switch
« Français » on English pages, a French-only CGU text); so are the values given as
``allowed`` (the user's own login, names and addresses, the ENT's name) and links.

French text is found three ways: a fragment of any French msgid of the catalogue whose
English translation differs, a character English does not use (é, è, à, ç, «, »…), or a
common French word. English text on French pages: a fragment of an English msgstr, or a
common English word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.pofile import read_po

CATALOGUE = (
    Path(__file__).resolve().parent.parent
    / "ent_idp"
    / "translations"
    / "en"
    / "LC_MESSAGES"
    / "messages.po"
)
READ_ATTRIBUTES = ("title", "alt", "aria-label", "placeholder")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
FRENCH_CHARACTERS = re.compile(r"[àâæçéèêëîïôœùûüÿÀÂÆÇÉÈÊËÎÏÔŒÙÛÜŸ«»]")
FRENCH_WORDS = re.compile(
    r"\b(votre|vous|nous|mot de passe|compte|adresse|étape|établissement|continuer|accès|"
    r"identifiant|messagerie|secours|bonjour|lien|avec|pour|dans|les|des|une|est|sur|pas|"
    r"ou|et|le|la|du|au)\b",
    re.IGNORECASE,
)
ENGLISH_WORDS = re.compile(
    r"\b(the|your|you|and|password|account|address|with|step|continue|skip|enter|"
    r"e-mail|link|school|this|has|been|will|not|of|to|is)\b",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|<[^>]+>")
_URL = re.compile(r"https?://\S+")


@dataclass
class Reading:
    """What a user reads of a page: its language and its text, exceptions set apart."""

    language: str
    text: list[str] = field(default_factory=list)
    other_language: list[tuple[str, str]] = field(default_factory=list)


class _Reader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.reading = Reading(language="")
        self.stack: list[tuple[str, str]] = []  # (tag, lang in force)
        self.skip = 0

    def _lang(self) -> str:
        return self.stack[-1][1] if self.stack else self.reading.language

    def _keep(self, text: str, lang: str) -> None:
        text = " ".join(text.split())
        if not text:
            return
        if lang and self.reading.language and lang != self.reading.language:
            self.reading.other_language.append((lang, text))
        else:
            self.reading.text.append(text)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "html":
            self.reading.language = attributes.get("lang") or ""
        lang = attributes.get("lang") or self._lang()
        if tag in ("script", "style"):
            self.skip += 1
        for name in READ_ATTRIBUTES:
            if attributes.get(name):
                self._keep(attributes[name], lang)
        if tag in ("input", "button") and attributes.get("type") in ("submit", "button"):
            self._keep(attributes.get("value") or "", lang)
        if tag not in VOID:
            self.stack.append((tag, lang))

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        while self.stack:
            opened, _ = self.stack.pop()
            if opened == tag:
                break

    def handle_data(self, data):
        if not self.skip:
            self._keep(data, self._lang())


def read_html(html: str) -> Reading:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.reading


def read_mail(message: EmailMessage) -> dict[str, Reading]:
    """The subject, the text part and the HTML part of a mail, each as a reading."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    language = message["Content-Language"] or ""
    return {
        "subject": Reading(language, [str(message["Subject"])]),
        "text": Reading(language, [text]),
        "html": read_html(html),
    }


@cache
def _pairs() -> tuple[tuple[str, str], ...]:
    """(French msgid, English msgstr) of every message and plural form that differ."""
    with CATALOGUE.open("rb") as fh:
        catalog = read_po(fh)
    pairs = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for french, english in zip(ids, strings, strict=False):
            if french != english:
                pairs.append((french, english))
    return tuple(pairs)


def _fragments(texts: list[str]) -> list[str]:
    """The literal runs of the messages (between placeholders and tags), 3 letters or more."""
    found = set()
    for text in texts:
        for run in _PLACEHOLDER.split(text):
            run = " ".join(run.split()).strip(" .,:;!?()")
            if sum(c.isalpha() for c in run) >= 3:
                found.add(run)
    return sorted(found, key=len, reverse=True)


@cache
def french_fragments() -> tuple[str, ...]:
    english = set(_fragments([e for _, e in _pairs()]))
    return tuple(f for f in _fragments([f for f, _ in _pairs()]) if f not in english)


@cache
def english_fragments() -> tuple[str, ...]:
    french = set(_fragments([f for f, _ in _pairs()]))
    return tuple(e for e in _fragments([e for _, e in _pairs()]) if e not in french)


def _clean(texts: list[str], allowed: tuple[str, ...]) -> str:
    text = " ".join(texts)
    text = _URL.sub(" ", text)
    for value in sorted(allowed, key=len, reverse=True):
        if value:
            text = text.replace(value, " ")
    return " ".join(text.split())


def _whole(fragment: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(fragment)}(?!\w)", text) is not None


def french_in(reading: Reading, allowed: tuple[str, ...] = ()) -> list[str]:
    """Every piece of French an English reader would meet; empty when there is none."""
    problems = []
    if reading.language != "en":
        problems.append(f"language {reading.language!r}, not 'en'")
    problems += [f"{lang}: {text}" for lang, text in reading.other_language if lang != "fr"]
    text = _clean(reading.text, allowed)
    problems += [f"msgid {f!r}" for f in french_fragments() if _whole(f, text)]
    problems += [f"character {c!r}" for c in sorted(set(FRENCH_CHARACTERS.findall(text)))]
    problems += [f"word {w!r}" for w in sorted({w.lower() for w in FRENCH_WORDS.findall(text)})]
    return problems + ([f"in: {text}"] if problems else [])


def english_in(reading: Reading, allowed: tuple[str, ...] = ()) -> list[str]:
    """Every piece of English a French reader would meet; empty when there is none."""
    problems = []
    if reading.language != "fr":
        problems.append(f"language {reading.language!r}, not 'fr'")
    problems += [f"{lang}: {text}" for lang, text in reading.other_language if lang != "en"]
    text = _clean(reading.text, allowed)
    problems += [f"msgstr {e!r}" for e in english_fragments() if _whole(e, text)]
    problems += [f"word {w!r}" for w in sorted({w.lower() for w in ENGLISH_WORDS.findall(text)})]
    return problems + ([f"in: {text}"] if problems else [])
