"""The app's binds, searches and Modifies as LDAP messages, written straight in BER (RFC 4511).

ldap3 builds each request as a tree of pyasn1 objects, encodes the tree, then decodes it
back into a dict (``conn.request``): about 1.1 ms of CPU for the completion Modify and
0.4 ms for a search, most of an activation's directory work on the client side. The
requests the app sends are few and simple (a simple bind; a search with a filter, limits
and a list of attributes; a Modify with controls), so they are written here as the bytes
pyasn1 writes, byte for byte (``tests/test_ldap_wire.py`` holds the two encoders to
the same output on generated requests). The answers are still read by ldap3.

Anything else (extensible matches, other request types) raises ``Unsupported``, and the
caller lets ldap3 build it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# ldap3's names of the enumerations, and their values on the wire.
SCOPES = {"BASE": 0, "LEVEL": 1, "SUBTREE": 2}
DEREFERENCE = {"NEVER": 0, "SEARCH": 1, "FINDING_BASE": 2, "ALWAYS": 3}
MODIFY_OPERATIONS = {"MODIFY_ADD": 0, "MODIFY_DELETE": 1, "MODIFY_REPLACE": 2}

_BIND, _SEARCH, _MODIFY = 0x60, 0x63, 0x66  # [APPLICATION 0, 3, 6], constructed
_AND, _OR, _NOT = 0xA0, 0xA1, 0xA2
_EQUALITY, _SUBSTRINGS, _PRESENT = 0xA3, 0xA4, 0x87
_ORDERING = {">": 0xA5, "<": 0xA6, "~": 0xA8}  # the character before ``=``
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9;.-]*")
_ESCAPE = re.compile(rb"\\([0-9A-Fa-f]{2})")


class Unsupported(ValueError):
    """A request or filter this module does not write: ldap3 builds it."""


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(octets),)) + octets


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + _length(len(content)) + content


def _integer(value: int, tag: int = 0x02) -> bytes:
    return _tlv(tag, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def _octets(value: str | bytes, tag: int = 0x04) -> bytes:
    if isinstance(value, str):
        return _tlv(tag, value.encode("utf-8"))
    if isinstance(value, bytes):
        return _tlv(tag, value)
    raise Unsupported(f"values are str or bytes here, not {type(value).__name__}")


def _boolean(value: bool) -> bytes:
    return b"\x01\x01\xff" if value else b"\x01\x01\x00"


# -- filters (RFC 4515) ----------------------------------------------------------------


def encode_filter(text: str) -> bytes:
    """The BER of an LDAP filter string (what the Assertion control carries)."""
    encoded, end = _filter(text, 0)
    if end != len(text):
        raise Unsupported(f"text after the filter: {text!r}")
    return encoded


def _filter(text: str, at: int) -> tuple[bytes, int]:
    if not text.startswith("(", at):
        raise Unsupported(f"a filter must start with '(': {text!r}")
    kind = text[at + 1 : at + 2]
    if kind in ("&", "|", "!"):
        parts, at = [], at + 2
        while text.startswith("(", at):
            part, at = _filter(text, at)
            parts.append(part)
        if not text.startswith(")", at) or not parts or (kind == "!" and len(parts) != 1):
            raise Unsupported(f"malformed filter: {text!r}")
        tag = {"&": _AND, "|": _OR, "!": _NOT}[kind]
        return _tlv(tag, b"".join(parts)), at + 1
    end = text.find(")", at)
    if end < 0 or "(" in text[at + 1 : end]:
        raise Unsupported(f"malformed filter: {text!r}")
    return _item(text[at + 1 : end]), end + 1


def _item(item: str) -> bytes:
    """One comparison, read as ldap3 reads it (``evaluate_match``): the name and the value
    stripped of surrounding white space, ``=*`` presence, a ``*`` inside a substring match."""
    left, equal, right = item.strip().partition("=")
    if not equal or left.endswith(":"):
        raise Unsupported(f"filter item not written here: {item!r}")
    tag = _ORDERING.get(left[-1:])
    if tag is not None:
        return _tlv(tag, _octets(_attribute(left[:-1])) + _octets(_value(right.strip())))
    if right == "*":
        return _octets(_attribute(left), _PRESENT)
    if "*" in right:
        initial, *middle, final = right.strip().split("*")
        pieces = [_octets(_value(initial), 0x80)] if initial else []
        pieces += [_octets(_value(part), 0x81) for part in middle if part]
        pieces += [_octets(_value(final), 0x82)] if final else []
        if not pieces:
            raise Unsupported(f"a substring match of nothing: {item!r}")  # ldap3 refuses it
        return _tlv(_SUBSTRINGS, _octets(_attribute(left)) + _tlv(0x30, b"".join(pieces)))
    return _tlv(_EQUALITY, _octets(_attribute(left)) + _octets(_value(right.strip())))


def _attribute(text: str) -> str:
    name = text.strip()
    if not _NAME.fullmatch(name):
        raise Unsupported(f"attribute description not written here: {name!r}")
    return name


def _value(escaped: str) -> bytes:
    """An assertion value as sent: UTF-8, each ``\\XX`` the byte it names."""
    raw = escaped.encode("utf-8")
    if raw.count(b"\\") != len(_ESCAPE.findall(raw)):
        raise Unsupported("a backslash that escapes no byte")  # ldap3 has rules of its own
    return _ESCAPE.sub(lambda m: bytes.fromhex(m.group(1).decode()), raw)


# -- requests --------------------------------------------------------------------------


def message(message_id: int, operation: bytes, controls: bytes = b"") -> bytes:
    """An LDAPMessage: the id, the operation, and its controls (``controls()``)."""
    return _tlv(0x30, _integer(message_id) + operation + controls)


def controls(given: Iterable | None) -> bytes:
    """The controls of a message, each ``(oid, criticality, value or None)`` as in ldap3."""
    if not given:
        return b""
    if not all(isinstance(control, tuple | list) for control in given):
        raise Unsupported("controls are (oid, criticality, value) tuples here")
    return _tlv(0xA0, b"".join(_control(*control) for control in given))


def _control(*control) -> bytes:
    if len(control) != 3 or not isinstance(control[0], str) or not isinstance(control[1], bool):
        raise Unsupported("controls are (oid, criticality, value) tuples here")
    oid, critical, value = control
    content = _octets(oid) + (_boolean(True) if critical else b"")
    if value is not None:
        content += _octets(value)
    return _tlv(0x30, content)


def bind(version: int, name: str, password: bytes) -> bytes:
    """A simple BindRequest: the password as the bytes given (``connections.secret``)."""
    if not name or not isinstance(password, bytes) or not password:
        raise Unsupported("a simple bind with a name and a password, as bytes")
    return _tlv(_BIND, _integer(version) + _octets(name) + _octets(password, 0x80))


def search(
    base: str,
    search_filter: str,
    scope: str,
    dereference: str,
    attributes: Iterable[str],
    size_limit: int,
    time_limit: int,
) -> bytes:
    """A SearchRequest (``scope`` and ``dereference`` by ldap3's names) asking for values."""
    if scope not in SCOPES or dereference not in DEREFERENCE or min(size_limit, time_limit) < 0:
        raise Unsupported(f"scope {scope!r}, dereference {dereference!r}, limits")
    return _tlv(
        _SEARCH,
        _octets(base)
        + _integer(SCOPES[scope], 0x0A)
        + _integer(DEREFERENCE[dereference], 0x0A)
        + _integer(size_limit)
        + _integer(time_limit)
        + _boolean(False)
        + encode_filter(search_filter)
        + _tlv(0x30, b"".join(_octets(name) for name in attributes)),
    )


def modify(dn: str, changes: dict[str, list[tuple[int, list]]]) -> bytes:
    """A ModifyRequest: ``changes`` as ldap3 takes them, ``{attribute: [(op, values)]}``."""
    items = []
    for attribute, operations in changes.items():
        if not isinstance(operations, list):
            raise Unsupported("each attribute's changes are a list of (operation, values)")
        for operation, values in operations:
            code = MODIFY_OPERATIONS.get(operation) if isinstance(operation, str) else None
            if code is None or not isinstance(values, list | tuple):
                raise Unsupported(f"modify operation {operation!r}")
            change = _octets(attribute) + _tlv(0x31, b"".join(_octets(v) for v in values))
            items.append(_tlv(0x30, _integer(code, 0x0A) + _tlv(0x30, change)))
    if not items:
        raise Unsupported("no changes")
    return _tlv(_MODIFY, _octets(dn) + _tlv(0x30, b"".join(items)))
