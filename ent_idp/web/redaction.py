"""What no log line may show: the tokens of mailed links, and CAS tickets.

A validation, « Mot de passe oublié » or « Débloquer mon compte » link, or a CAS service
ticket (``?ticket=ST-…``), is enough to act as its user while it is valid. They travel in a
request's path or query, and in the Referer of the requests a page makes next.

The paths come from the app's own URL map (``learn``): every variable part of a route is
redacted unless it is one of ``PUBLIC_ARGUMENTS`` (a flow's name, a language code, a static
file), so a new route carrying a token is redacted without anyone adding it here.

Every string of every log line goes through ``redact``: the routes are one pattern (the
longest first, so a route that extends another is redacted in full), and a string with no
``/`` (an id, a method, an address) is only looked at for a ticket.
"""

from __future__ import annotations

import re

from werkzeug.routing import Map

REDACTED = "…"
KEY = "ent_idp.redactor"  # on app.extensions
PUBLIC_ARGUMENTS = frozenset({"kind", "code", "filename"})

_SEGMENT = r"[^/?#\s\"]+"
_VARIABLE = re.compile(r"<([^>]*)>")
_TICKET = re.compile(r"([?&;]ticket=)[^&#\s\"]*", re.IGNORECASE)


class Redactor:
    def __init__(self) -> None:
        self.routes: list[str] = []  # the routes whose paths are redacted (tests read it)
        self._sources: list[str] = []
        self._paths: re.Pattern | None = None

    def learn(self, url_map: Map) -> None:
        """Redact the secret parts of every route of ``url_map``."""
        for rule in url_map.iter_rules():
            source = _pattern(rule.rule, len(self._sources))
            if source is not None and rule.rule not in self.routes:
                self.routes.append(rule.rule)
                self._sources.append(source)
        if self._sources:
            longest_first = sorted(self._sources, key=len, reverse=True)
            self._paths = re.compile("|".join(f"(?:{s})" for s in longest_first))

    def redact(self, text: str) -> str:
        """``text`` with link tokens and CAS tickets replaced by ``…``."""
        if not text:
            return text
        if self._paths is not None and "/" in text:
            text = self._paths.sub(_keep_all_but_secrets, text)
        if "=" not in text:
            return text
        return _TICKET.sub(rf"\g<1>{REDACTED}", text)


def _pattern(rule: str, number: int) -> str | None:
    """A regex for ``rule`` up to its last secret variable, each secret a named group
    (``r<number>s<n>``: unique among the routes' patterns)."""
    parts, secrets, position = [], 0, 0
    for variable in _VARIABLE.finditer(rule):
        parts.append(re.escape(rule[position : variable.start()]))
        name = variable.group(1).rpartition(":")[2].strip()
        if name in PUBLIC_ARGUMENTS:
            parts.append(_SEGMENT)
        else:
            parts.append(f"(?P<r{number}s{secrets}>{_SEGMENT})")
            secrets += 1
            last = len(parts)
        position = variable.end()
    if not secrets:
        return None
    return "".join(parts[:last])


def _keep_all_but_secrets(match: re.Match) -> str:
    text, start = match.group(0), match.start()
    kept, position = [], 0
    for name, value in match.groupdict().items():
        if value is None:  # a group of another route's pattern
            continue
        begin, end = match.span(name)
        kept += [text[position : begin - start], REDACTED]
        position = end - start
    return "".join([*kept, text[position:]])
