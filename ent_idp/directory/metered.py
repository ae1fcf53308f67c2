"""ldap3's connection, timed and counted: every directory call passes through here.

``Connections.open`` builds every connection as a ``MeteredConnection``, so each call
(bind, search, modify, add, delete, extended, and opening the socket) is timed
(``ent_idp_ldap_call_duration_seconds{operation}``) and each one that raises is counted by
kind (``ent_idp_ldap_errors_total{kind}``: unavailable, timeout, tls, other) before the
callers translate it (``errors``). A call made inside another (a bind that opens the socket
first) is measured once, as the outer one.

Simple binds, searches and Modifies go out as ``wire`` writes them (most of their client
CPU was ldap3 building, encoding and decoding again pyasn1 objects), and ldap3 reads the
answer as for its own requests. A call ``wire`` does not write (other arguments, other
shapes) is ldap3's from start to end.
"""

from __future__ import annotations

import time

import ldap3
from ldap3.core.exceptions import (
    LDAPSocketOpenError,
    LDAPSocketSendError,
    communication_exception_factory,
)
from ldap3.core.results import RESULT_SUCCESS
from ldap3.utils.dn import safe_dn

from ..metrics import LDAP_DURATION, LDAP_ERRORS
from . import wire
from .errors import error_kind

OPERATIONS = ("open", "start_tls", "bind", "search", "modify", "add", "delete", "extended")


class MeteredConnection(ldap3.Connection):
    _metering = False

    def _metered(self, operation: str, call, *args, **kwargs):
        if self._metering:
            return call(*args, **kwargs)
        self._metering = True
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        except Exception as exc:
            LDAP_ERRORS.labels(error_kind(exc).value).inc()
            raise
        finally:
            self._metering = False
            LDAP_DURATION.labels(operation).observe(time.perf_counter() - started)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # ldap3 sets ``open`` per instance (its strategy's): wrap that one.
        strategy_open = self.open
        self.open = lambda *a, **k: self._metered("open", strategy_open, *a, **k)

    def start_tls(self, *args, **kwargs):
        return self._metered("start_tls", super().start_tls, *args, **kwargs)

    def bind(self, read_server_info=True, controls=None):
        simple = self.authentication == ldap3.SIMPLE and not self.lazy
        call = self._bind_encoded if self._encodes and simple else super().bind
        return self._metered("bind", call, read_server_info, controls)

    def search(self, search_base, search_filter, search_scope=ldap3.SUBTREE, *args, **kwargs):
        encoded = self._encodes and not args and kwargs.keys() <= _ENCODED_SEARCH
        call = self._search_encoded if encoded else super().search
        base_filter_scope = (search_base, search_filter, search_scope)
        return self._metered("search", call, *base_filter_scope, *args, **kwargs)

    def modify(self, dn, changes, controls=None):
        # ldap3 refuses a write on a read-only connection: its path, its error.
        call = self._modify_encoded if self._encodes and not self.read_only else super().modify
        return self._metered("modify", call, dn, changes, controls)

    # -- the requests ``wire`` encodes ---------------------------------------------------

    @property
    def _encodes(self) -> bool:
        """Plain synchronous LDAP (no SASL layer signing each message)."""
        return self.strategy_type == ldap3.SYNC and not self.sasl_mechanism

    def _search_encoded(
        self,
        base: str,
        search_filter: str,
        scope: str,
        dereference_aliases: str = ldap3.DEREF_ALWAYS,
        attributes=None,
        size_limit: int = 0,
        time_limit: int = 0,
        controls=None,
    ):
        """ldap3's ``search`` for these arguments, the request encoded by ``wire``."""
        base = safe_dn(base) if self.check_names and base else base
        if not attributes:
            names = [ldap3.NO_ATTRIBUTES]
        else:
            names = [attributes] if isinstance(attributes, str) else list(attributes)
        try:
            limits = (size_limit, time_limit)
            operation = wire.search(base, search_filter, scope, dereference_aliases, names, *limits)
            wired = wire.controls(controls)
        except wire.Unsupported:
            return super().search(
                base, search_filter, scope, dereference_aliases, attributes,
                size_limit, time_limit, controls=controls,
            )  # fmt: skip
        request = {
            "base": base,
            "scope": wire.SCOPES[scope],
            "dereferenceAlias": wire.DEREFERENCE[dereference_aliases],
            "sizeLimit": size_limit,
            "timeLimit": time_limit,
            "typesOnly": False,
            "filter": search_filter,
            "attributes": names,
        }
        with self.connection_lock:
            self._fire_deferred()
            sent = self._send_encoded("searchRequest", operation, wired, controls, request)
            response = self.post_send_search(sent)
            self._entries = []
            found = self.result["type"] == "searchResDone" and len(response) > 0
            return self._answered(found, response=True)

    def _modify_encoded(self, dn: str, changes: dict, controls=None):
        """ldap3's ``modify``, the request encoded by ``wire``."""
        dn = safe_dn(dn) if self.check_names else dn
        try:
            operation, wired = wire.modify(dn, changes), wire.controls(controls)
        except wire.Unsupported:
            return super().modify(dn, changes, controls)
        request = {
            "entry": dn,
            "changes": [
                {"operation": wire.MODIFY_OPERATIONS[op], "attribute": {"type": name, "value": v}}
                for name, operations in changes.items()
                for op, v in operations
            ],
        }
        with self.connection_lock:
            self._fire_deferred()
            sent = self._send_encoded("modifyRequest", operation, wired, controls, request)
            self.post_send_single_response(sent)
            self._entries = []
            result = self.result
            return self._answered(
                result["type"] == "modifyResponse" and result["result"] == RESULT_SUCCESS
            )

    def _bind_encoded(self, read_server_info: bool, controls=None):
        """ldap3's simple ``bind`` (``rebind`` comes here too), the request encoded by
        ``wire``; the password is not copied into ``conn.request``."""
        try:
            operation = wire.bind(self.version, self.user or "", self.password)
            wired = wire.controls(controls)
        except wire.Unsupported:
            return super().bind(read_server_info, controls)
        request = {"version": self.version, "name": self.user or "", "authentication": None}
        with self.connection_lock:
            self._deferred_bind, self._bind_controls = False, None
            if self.closed:
                self.open(read_server_info=False)
            sent = self._send_encoded("bindRequest", operation, wired, controls, request)
            self.post_send_single_response(sent)
            self.bound = self.result["result"] == RESULT_SUCCESS
            if read_server_info and self.bound:
                self.refresh_server_info()
            self._entries = []
            return self._answered(self.bound)

    def _answered(self, done: bool, response: bool = False):
        """ldap3's ending of an operation: the error noted, the value returned."""
        if not done and self.result["result"] != RESULT_SUCCESS and not self.last_error:
            self.last_error = self.result["description"]
        return self._prepare_return_value(done, response=response)

    def _send_encoded(self, kind: str, operation: bytes, encoded: bytes, controls, request) -> int:
        """What ldap3's ``strategy.send`` and ``sending`` do, for a request already encoded
        (``encoded``: its controls; ``request``: it as ldap3 would decode it)."""
        self.last_error = None
        self.request = None
        if not self.listening:
            self.last_error = "unable to send message, socket is not open"
            raise LDAPSocketOpenError(self.last_error)
        message_id = self.server.next_message_id()
        payload = wire.message(message_id, operation, encoded)
        self.request = {**request, "type": kind, "controls": controls}
        self.strategy._outstanding[message_id] = self.request
        try:
            self.socket.sendall(payload)
        except OSError as exc:
            self.last_error = "socket sending error" + str(exc)
            error = communication_exception_factory(LDAPSocketSendError, type(exc)(str(exc)))
            raise error(self.last_error) from exc
        if self.usage:
            self._usage.update_transmitted_message(self.request, len(payload))
        return message_id


# What ``_search_encoded`` takes beside the base, the filter and the scope.
_ENCODED_SEARCH = frozenset(
    {"dereference_aliases", "attributes", "size_limit", "time_limit", "controls"}
)
