"""Which user profile an account has: the first whose filter the directory matches.

Exact by construction: each filter is evaluated by the directory itself, on the account's
entry (a base-scope search that returns no attribute), with the schema's own matching rules
(``objectClass=ENTPerson`` matches an ENTEleve entry through its superclass, caseIgnoreMatch
folds case as the directory does), never by a guess of ours on attributes read. The cost is
one small search per profile tried, on one connection, stopping at the first match; a last
profile matching everything, ``(objectClass=*)``, costs none.
"""

from __future__ import annotations

import ldap3
from ldap3.core.exceptions import LDAPInvalidFilterError
from ldap3.operation.search import parse_filter

from ..errors import ConfigError
from ..settings.user_profiles import CATCH_ALL, UserProfile
from .connections import Connections
from .errors import NO_SUCH_OBJECT, SUCCESS, raise_for_search


class UserProfiles:
    """The configured user profiles, matched on entries by the directory."""

    def __init__(self, connections: Connections, profiles: tuple[UserProfile, ...]):
        for profile in profiles:
            try:
                parse_filter(profile.filter, None, False, False, None, False)
            except LDAPInvalidFilterError as exc:
                raise ConfigError(
                    f"setting user_profiles, profile {profile.name}: {profile.filter!r} is not "
                    f"an LDAP filter ({exc})"
                ) from None
        self.connections = connections
        self.profiles = profiles

    def of(self, dn: str) -> UserProfile | None:
        """The first profile whose filter matches the entry at ``dn``; None if none does.

        A ``dn`` nobody can read (the decoy's, for an unknown login) tries every profile:
        identification costs the same searches whether the login exists. A first profile
        matching everything (the entidp default) costs no call at all.
        """
        if self.profiles and _catch_all(self.profiles[0].filter):
            return self.profiles[0]

        def match(conn: ldap3.Connection) -> UserProfile | None:
            for profile in self.profiles:
                if _catch_all(profile.filter):
                    return profile
                conn.search(dn, profile.filter, search_scope=ldap3.BASE, attributes=["1.1"])
                raise_for_search(conn.result)
                found = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
                if found and conn.result.get("result") in (SUCCESS, NO_SUCH_OBJECT):
                    return profile
            return None

        return self.connections.run(match)


def _catch_all(search_filter: str) -> bool:
    return "".join(search_filter.split()).lower() == CATCH_ALL.lower()
