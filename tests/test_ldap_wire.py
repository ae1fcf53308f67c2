"""The app's own BER encoding of its LDAP requests (``directory.wire``) against ldap3's.

The binds, searches and Modifies the app sends are written by ``wire`` instead of ldap3's
pyasn1 objects (a third of the client's CPU per operation). A request that differed by one
byte could match another entry, write another value or send another password, so every
request shape the app sends is generated here, with accented, escaped and binary values,
and both encoders must give the same bytes. Then the same requests go to the real slapd
through the app's connections.
"""

from __future__ import annotations

import ldap3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ldap3.operation.bind import bind_operation
from ldap3.operation.modify import modify_operation
from ldap3.operation.search import search_operation
from ldap3.protocol.convert import build_controls_list
from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp
from ldap3.utils.asn1 import encode
from ldap3.utils.conv import escape_filter_chars

from ent_idp.directory import guards, wire
from ent_idp.directory.accounts import AccountState, PasswordCheck

from .conftest import resources_of

pytestmark = pytest.mark.security

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}(;[a-z-]{1,8})?", fullmatch=True)
DNS = st.builds(lambda a, v: f"{a}={escape_filter_chars(v)},ou=people,dc=ent", NAMES, TEXT)
VALUES = st.one_of(TEXT, st.binary(max_size=300))
OPERATIONS = st.sampled_from([ldap3.MODIFY_ADD, ldap3.MODIFY_DELETE, ldap3.MODIFY_REPLACE])
CONTROLS = st.lists(
    st.tuples(
        st.from_regex(r"[12](\.[0-9]{1,6}){1,8}", fullmatch=True),
        st.booleans(),
        st.one_of(st.none(), st.binary(max_size=200)),
    ),
    max_size=3,
)


def _simple(name: str, value: str) -> str:
    escaped = escape_filter_chars(value)
    return f"({name}={escaped})"


ITEMS = st.one_of(
    st.builds(_simple, NAMES, TEXT),
    st.builds(lambda n: f"({n}=*)", NAMES),
    st.builds(
        lambda n, parts: f"({n}={'*'.join(escape_filter_chars(p) for p in parts)})",
        NAMES,
        st.lists(TEXT, min_size=2, max_size=4),
    ),
    st.builds(
        lambda n, op, v: f"({n}{op}{escape_filter_chars(v)})",
        NAMES,
        st.sampled_from([">=", "<=", "~="]),
        TEXT,
    ),
)
FILTERS = st.recursive(
    ITEMS,
    lambda inner: st.one_of(
        st.builds(lambda fs: "(&" + "".join(fs) + ")", st.lists(inner, min_size=1, max_size=4)),
        st.builds(lambda fs: "(|" + "".join(fs) + ")", st.lists(inner, min_size=1, max_size=4)),
        st.builds(lambda f: f"(!{f})", inner),
    ),
    max_leaves=12,
)


def _ldap3(message_id: int, kind: str, request, controls=None) -> bytes:
    message = LDAPMessage()
    message["messageID"] = MessageID(message_id)
    message["protocolOp"] = ProtocolOp().setComponentByName(kind, request)
    built = build_controls_list(controls)
    if built is not None:
        message["controls"] = built
    return encode(message)


IDS = st.integers(min_value=1, max_value=2**31 - 1)
LIMITED = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@LIMITED
@given(IDS, DNS, FILTERS, st.sampled_from(list(wire.SCOPES)), st.lists(NAMES, max_size=8))
def test_a_search_is_the_bytes_ldap3_would_send(message_id, base, search_filter, scope, names):
    """The search of a login carries the typed login inside the filter: the filter must
    reach slapd exactly as ldap3 would send it (escapes, UTF-8, nesting), or it could
    match someone else's entry."""
    names = names or [ldap3.NO_ATTRIBUTES]
    try:
        theirs = search_operation(
            base, search_filter, scope, ldap3.DEREF_ALWAYS, names, 2, 10,
            False, True, True, None, None, False,
        )  # fmt: skip
        expected = _ldap3(message_id, "searchRequest", theirs)
    except Exception:  # noqa: BLE001 - ldap3 refuses it: so does wire, and ldap3 says why
        with pytest.raises(wire.Unsupported):
            wire.search(base, search_filter, scope, ldap3.DEREF_ALWAYS, names, 2, 10)
        return
    ours = wire.search(base, search_filter, scope, ldap3.DEREF_ALWAYS, names, 2, 10)
    assert wire.message(message_id, ours) == expected


@LIMITED
@given(
    IDS,
    DNS,
    st.dictionaries(NAMES, st.lists(st.tuples(OPERATIONS, st.lists(VALUES, max_size=3)),
                                    min_size=1, max_size=2), min_size=1, max_size=6),
    CONTROLS,
)  # fmt: skip
def test_a_modify_is_the_bytes_ldap3_would_send(message_id, dn, changes, controls):
    """The completion Modify writes the password, the CGU acceptance and the backup
    address under an Assertion control: one byte off would write another value, or drop
    the guard that refuses a write made on stale values."""
    changes = {name: [(op, list(values)) for op, values in ops] for name, ops in changes.items()}
    theirs = modify_operation(dn, changes, True, None, None, False)
    ours = wire.modify(dn, changes)
    expected = _ldap3(message_id, "modifyRequest", theirs, controls)
    assert wire.message(message_id, ours, wire.controls(controls)) == expected


@LIMITED
@given(IDS, DNS, st.binary(min_size=1, max_size=300))
def test_a_bind_sends_the_password_bytes_as_ldap3_would(message_id, dn, password):
    """A user's bind checks the provisional password: it must be the very bytes typed
    (``connections.secret``), as ldap3 sends them, or a right password would fail or a
    wrong one pass."""
    theirs = bind_operation(3, ldap3.SIMPLE, dn, password, auto_encode=True)
    assert wire.message(message_id, wire.bind(3, dn, password)) == _ldap3(
        message_id, "bindRequest", theirs
    )


@LIMITED
@given(FILTERS)
def test_an_assertion_filter_is_the_bytes_ldap3_would_send(search_filter):
    """The Assertion control's filter is what makes a write refuse stale values."""
    from ldap3.operation.search import compile_filter, parse_filter

    try:
        tree = parse_filter(search_filter, None, False, True, None, False)
        expected = encode(compile_filter(tree.elements[0]))
    except Exception:  # noqa: BLE001 - as in the search
        with pytest.raises(wire.Unsupported):
            wire.encode_filter(search_filter)
        return
    assert wire.encode_filter(search_filter) == expected


@pytest.mark.parametrize(
    "search_filter", ["(cn:dn:=x)", "cn=x", "(cn=x", "(&)", "(!(a=b)(c=d))", "(a=b))"]
)
def test_what_wire_does_not_write_is_left_to_ldap3(search_filter):
    """An extensible match or a malformed filter is not guessed at: ldap3 builds it (and
    refuses it if it is malformed)."""
    with pytest.raises(wire.Unsupported):
        wire.encode_filter(search_filter)


@pytest.mark.parametrize("controls", [[("1.2.3", True)], [object()], [("1.2.3", "yes", None)]])
def test_controls_wire_does_not_write_are_left_to_ldap3(controls):
    """A control that is not ``(oid, criticality, value)`` is ldap3's to build or refuse."""
    with pytest.raises(wire.Unsupported):
        wire.controls(controls)


def test_the_encoded_requests_work_against_slapd_and_keep_no_password(app, accounts):
    """Through the app's own connections: the search finds the entry, the bind checks the
    password, the guarded Modify applies, and then refuses once the entry changed; the
    bind request ldap3 keeps on the connection holds no password."""
    directory = resources_of(app).directory
    created = accounts.create("pending", password="Provisoire-été-2026")
    account = directory.find(created["login"])
    assert account.login == created["login"]
    assert directory.check_password(account.dn, "Provisoire-été-2026") is PasswordCheck.OK
    assert directory.check_password(account.dn, "Provisoire-ete-2026") is PasswordCheck.WRONG
    bind = directory.connections._binds.get_nowait()
    assert bind.request["type"] == "bindRequest" and bind.request["authentication"] is None
    directory.connections._binds.put(bind)

    guard = guards.assertion(guards.unchanged(directory.profile, account))

    wish = directory.profile.forward_wish

    def write(value: str):
        def modify(conn):
            conn.modify(account.dn, {wish: [(ldap3.MODIFY_REPLACE, [value])]}, controls=[guard])
            return conn.result["result"]

        return directory.connections.run(modify)

    assert write("TRUE") == 0
    active = directory.profile.states[AccountState.ACTIVE]
    state = {directory.profile.state: [(ldap3.MODIFY_REPLACE, [active])]}
    assert directory.connections.run(lambda conn: conn.modify(account.dn, state))
    assert write("FALSE") == 122  # assertionFailed: the entry changed in between
    again = directory.connections.run(
        lambda conn: (
            conn.search(account.dn, "(objectClass=*)", ldap3.BASE, attributes=[wish])
            and conn.response
        )
    )
    assert again[0]["attributes"][wish] in (["TRUE"], [True], True)
    one = directory.connections.run(  # one attribute named as a string, as ldap3 takes it
        lambda conn: (
            conn.search(account.dn, "(objectClass=*)", ldap3.BASE, attributes="uid")
            and conn.response
        )
    )
    assert one[0]["attributes"]["uid"] in ([account.login], account.login)
