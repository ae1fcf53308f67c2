"""ldap3's connection, timed and counted: every directory call passes through here.

``Connections.open`` builds every connection as a ``MeteredConnection``, so each call
(bind, search, modify, add, delete, extended, and opening the socket) is timed
(``ent_idp_ldap_call_duration_seconds{operation}``) and each one that raises is counted by
kind (``ent_idp_ldap_errors_total{kind}``: unavailable, timeout, tls, other) before the
callers translate it (``errors``). A call made inside another (a bind that opens the socket
first) is measured once, as the outer one.
"""

from __future__ import annotations

import time

import ldap3

from ..metrics import LDAP_DURATION, LDAP_ERRORS
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

    def bind(self, *args, **kwargs):
        return self._metered("bind", super().bind, *args, **kwargs)

    def search(self, *args, **kwargs):
        return self._metered("search", super().search, *args, **kwargs)

    def modify(self, *args, **kwargs):
        return self._metered("modify", super().modify, *args, **kwargs)

    def add(self, *args, **kwargs):
        return self._metered("add", super().add, *args, **kwargs)

    def delete(self, *args, **kwargs):
        return self._metered("delete", super().delete, *args, **kwargs)

    def extended(self, *args, **kwargs):
        return self._metered("extended", super().extended, *args, **kwargs)
