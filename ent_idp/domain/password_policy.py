"""The password policy: one function returning every rule a candidate breaks.

Length, the CNIL's strength measure (length × log2 of the character pool), no login or name
inside, and not a common or easily guessed password (zxcvbn, with the login, the names and
the ENT's name as context words).

The page checks them as the user types: the simple rules in ``static/password-policy.js``
(parameters from the form's ``data-`` attributes), all of them through ``/mot-de-passe/regles``
which calls this very function; the server decides on submit.
"""

from __future__ import annotations

import math
import string
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from zxcvbn_rs_py import zxcvbn

from ..settings import Settings, current

# zxcvbn's cost grows with the length; past this a password is long enough by itself.
ZXCVBN_MAX_LENGTH = 72


class Rule(StrEnum):
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    TOO_WEAK = "too_weak"
    CONTAINS_PERSONAL = "contains_personal"
    COMMON = "common"
    BLANK_EDGES = "blank_edges"


@dataclass(frozen=True)
class Policy:
    min_length: int = 8
    max_length: int = 256
    min_entropy_bits: int = 50
    min_strength: int = 3  # zxcvbn score 0-4; 3 means about 10^8 guesses or more
    context: tuple[str, ...] = ()  # words every password is checked against (ENT names)

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        password = settings.password
        return cls(
            min_length=password.min_length,
            max_length=password.max_length,
            min_entropy_bits=password.min_entropy_bits,
            min_strength=password.min_strength,
            # Every ENT's name: a password of one ENT of the region is not another's name.
            context=tuple(dict.fromkeys(w for e in settings.ents for w in e.name.split()))
            + ("ENT",),
        )


# Pool sizes of the CNIL's measure (délibération 2022-100): the classes a password uses.
_POOLS = (
    (set(string.ascii_lowercase), 26),
    (set(string.ascii_uppercase), 26),
    (set(string.digits), 10),
)
_SPECIAL_POOL = 33  # printable ASCII punctuation and space
_OTHER_POOL = 100  # accented letters and any other Unicode: counted conservatively


def length(password: str) -> int:
    """Length in user-perceived characters (code points after NFC), as the page counts."""
    return len(unicodedata.normalize("NFC", password))


def entropy_bits(password: str) -> float:
    """length × log2(pool) where pool adds up the character classes used."""
    chars = set(password)
    pool = sum(size for members, size in _POOLS if chars & members)
    ascii_printable = set(string.ascii_letters + string.digits)
    if any(c in string.punctuation or c == " " for c in chars):
        pool += _SPECIAL_POOL
    if any(c not in ascii_printable and c not in string.punctuation and c != " " for c in chars):
        pool += _OTHER_POOL
    return length(password) * math.log2(pool) if pool else 0.0


def broken_rules(password: str, policy: Policy, personal: tuple[str, ...] = ()) -> list[Rule]:
    """Every rule ``password`` breaks, in the order the page lists them."""
    broken = []
    if length(password) < policy.min_length:
        broken.append(Rule.TOO_SHORT)
    if length(password) > policy.max_length:
        broken.append(Rule.TOO_LONG)
    if entropy_bits(password) < policy.min_entropy_bits:
        broken.append(Rule.TOO_WEAK)
    lowered = password.casefold()
    words = _words(personal)
    if any(len(word) >= 3 and word.casefold() in lowered for word in words):
        broken.append(Rule.CONTAINS_PERSONAL)
    if password and length(password) <= ZXCVBN_MAX_LENGTH:
        context = sorted(words | set(policy.context))
        if _strength(password, context) < policy.min_strength:
            broken.append(Rule.COMMON)
    if password != password.strip():
        broken.append(Rule.BLANK_EDGES)
    return broken


def _strength(password: str, context: list[str]) -> int:
    """zxcvbn's score, 0-4 (zxcvbn-rs: the same estimator, ten times faster than the Python
    port). It takes UTF-8 only: a lone surrogate (JSON's ``\\ud800`` on the live check) is
    scored as U+FFFD."""
    clean = password.encode("utf-8", "replace").decode("utf-8")
    return int(zxcvbn(clean, context).score)


def prepare() -> None:
    """Load zxcvbn's dictionaries (≈ 15 ms, once per process): before gunicorn forks, so no
    worker pays it on a user's request."""
    zxcvbn("prepare", [])


def _words(personal: tuple[str, ...]) -> set[str]:
    """The login, names and their parts (``alice.martin`` -> alice, martin, alice.martin)."""
    words = set()
    for item in personal:
        if not item:
            continue
        words.add(item)
        words.update(part for part in item.replace("-", ".").replace(" ", ".").split(".") if part)
    return words


def current_policy() -> Policy:
    """The policy of the app in context ([password] settings, the ENT's name)."""
    return Policy.from_settings(current())
