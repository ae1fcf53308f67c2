"""django-cas-server's LDAP bind, with the password sent as the UTF-8 bytes typed.

``cas_server.auth.LdapAuthUser`` hands the typed ``str`` to ldap3, which applies SASLprep
(RFC 4013) to it in a simple bind: ``²`` binds as ``2``, a no-break space as a space, ``ﬁ``
as ``fi``, and some passwords (Latin and Arabic letters mixed, a left-to-right mark...) raise
an error, a 500 on the login page. ent-idp writes and checks passwords as the UTF-8 bytes
the user typed (``ent_idp.directory._secret``), so this CAS binds with those same bytes,
which ldap3 sends unchanged: a password binds at CAS exactly as it was chosen.
"""

from __future__ import annotations

import hmac

import ldap3
from cas_server.auth import LdapAuthUser
from django.conf import settings


class Utf8LdapAuthUser(LdapAuthUser):
    """``CAS_AUTH_CLASS = "devstack.cas.auth.Utf8LdapAuthUser"`` (with the bind check)."""

    def test_password(self, password):
        if isinstance(password, str):
            password = password.encode("utf-8")
        return super().test_password(password)


class DemoFederationAuthUser(Utf8LdapAuthUser):
    """devstack only: a stand-in for the federation (ÉduConnect) of the ESCO demo.

    Federated users have no password in the directory; the real CAS hands them to ÉduConnect
    and maps them back to their entry. Here, an entry that ``DEMO_FEDERATED_FILTER`` matches
    (the federated user profile's filter, evaluated by the directory) logs in with the one
    ``DEMO_FEDERATION_PASSWORD`` of the demo; everyone else binds with their own password.
    Never in ent_idp/: nothing of the product accepts a password it did not check.
    """

    def test_password(self, password):
        typed = password.encode("utf-8") if isinstance(password, str) else password
        demo = settings.DEMO_FEDERATION_PASSWORD.encode("utf-8")
        if self.user and hmac.compare_digest(typed, demo) and self._federated():
            return True
        return super().test_password(password)

    def _federated(self) -> bool:
        conn = self.get_conn()
        conn.search(
            self.user["dn"],
            settings.DEMO_FEDERATED_FILTER,
            search_scope=ldap3.BASE,
            attributes=["1.1"],
        )
        return len(conn.response or []) == 1
