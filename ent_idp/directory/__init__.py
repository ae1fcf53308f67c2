"""Everything LDAP, and the only package that imports ldap3.

- ``accounts``: the account record and its states (plain data, no ldap3);
- ``profile``: the names a directory's schema gives to them ([ldap] profile);
- ``connections``: every connection, built in one place (``tls``), and the pools;
- ``app``: ``AppDirectory``, the app's reads and guarded writes (least privilege);
- ``admin``: ``AdminDirectory``, the admin commands' writes (manage rights);
- ``probes``: what ``ent-idp check`` tries;
- ``errors``: ldap3's results and exceptions become ``ent_idp.errors``' here.

App and admin privileges are separate classes: the web app and the mail worker only ever
hold an ``AppDirectory``.
"""

from __future__ import annotations

from ..settings import Settings
from .accounts import Acceptance, Account, AccountState, Charter, PasswordCheck, ldap_time
from .admin import AdminDirectory
from .app import AppDirectory
from .connections import Connections
from .errors import AdminNotConfigured
from .probes import DecoyProbe, Probes
from .profile import Profile

__all__ = [
    "Acceptance",
    "Account",
    "AccountState",
    "AdminDirectory",
    "AdminNotConfigured",
    "AppDirectory",
    "Charter",
    "Connections",
    "DecoyProbe",
    "PasswordCheck",
    "Probes",
    "Profile",
    "admin_directory",
    "app_directory",
    "ldap_time",
]


def app_directory(settings: Settings) -> AppDirectory:
    """The app's directory, with connection pools of its own."""
    connections = Connections(settings.ldap, settings.admin)
    return AppDirectory(connections, Profile.from_settings(settings.ldap), settings.user_profiles)


def admin_directory(settings: Settings) -> AdminDirectory:
    """The admin commands' directory (and its reads), with connections of its own."""
    return AdminDirectory(app_directory(settings))
