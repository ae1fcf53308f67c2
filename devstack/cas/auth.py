"""django-cas-server's LDAP bind, with the password sent as the UTF-8 bytes typed.

``cas_server.auth.LdapAuthUser`` hands the typed ``str`` to ldap3, which applies SASLprep
(RFC 4013) to it in a simple bind: ``²`` binds as ``2``, a no-break space as a space, ``ﬁ``
as ``fi``, and some passwords (Latin and Arabic letters mixed, a left-to-right mark...) raise
an error, a 500 on the login page. ent-idp writes and checks passwords as the UTF-8 bytes
the user typed (``ent_idp.directory._secret``), so this CAS binds with those same bytes,
which ldap3 sends unchanged: a password binds at CAS exactly as it was chosen.
"""

from __future__ import annotations

from cas_server.auth import LdapAuthUser


class Utf8LdapAuthUser(LdapAuthUser):
    """``CAS_AUTH_CLASS = "devstack.cas.auth.Utf8LdapAuthUser"`` (with the bind check)."""

    def test_password(self, password):
        if isinstance(password, str):
            password = password.encode("utf-8")
        return super().test_password(password)
