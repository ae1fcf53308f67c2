"""The app's shared resources, built once by the factory and kept on ``app.extensions``.

``resources()`` is how the layers above reach them inside the app (a request, a command's
app context): the settings, the app's directory, the store, and what start-up computed from
the settings once (each ENT's CAS allow-list, where single logouts may come from, each ENT's
charter: the one place that reads an ENT's CGU service id and version).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from ..cas import AllowedService, Network, admits, logout_networks, parse_allow_list
from ..directory import AppDirectory, Charter, app_directory
from ..settings import Ent, Settings
from ..settings.ents import charter_id
from ..store import Store

KEY = "ent_idp"


@dataclass
class Resources:
    settings: Settings
    directory: AppDirectory
    store: Store
    allow_lists: dict[str, tuple[AllowedService, ...]]  # by ENT key: [cas] allowed_services
    cas_logout_networks: tuple[Network, ...]
    charters: dict[str, Charter]  # by ENT key: the CGU its users accept

    @classmethod
    def build(cls, settings: Settings) -> Resources:
        fmt = settings.ldap.cgu_format
        networks: list[Network] = []
        for url in dict.fromkeys(ent.cas.url for ent in settings.ents):
            networks += logout_networks(settings.cas.logout_addresses, url)
        return cls(
            settings=settings,
            directory=app_directory(settings),
            store=Store(settings),
            allow_lists={e.key: parse_allow_list(e.cas.allowed_services) for e in settings.ents},
            cas_logout_networks=tuple(dict.fromkeys(networks)),
            charters={e.key: Charter(charter_id(e, fmt), e.cgu.version) for e in settings.ents},
        )

    def charter(self, ent: Ent) -> Charter:
        """The CGU ``ent``'s users accept: its [cgu] service id and version."""
        return self.charters[ent.key]

    def allowed_services(self, ent: Ent) -> tuple[AllowedService, ...]:
        return self.allow_lists[ent.key]

    def ent_for_service(self, service: str | None) -> Ent | None:
        """The ENT whose allow-list admits ``service`` (the CAS interrupt's): the first."""
        for ent in self.settings.ents:
            if service and admits(service, self.allow_lists[ent.key]):
                return ent
        return None

    def close(self) -> None:
        """Release the connections (tests and short-lived commands)."""
        self.directory.connections.close()
        self.store.close()


def resources() -> Resources:
    return current_app.extensions[KEY]
