"""The app's shared resources, built once by the factory and kept on ``app.extensions``.

``resources()`` is how the layers above reach them inside the app (a request, a command's
app context): the settings, the app's directory, the store, and what start-up computed from
the settings once (the CAS allow-list, where single logouts may come from, the charter: the
one place that reads this deployment's CGU service id and version).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from ..cas import AllowedService, Network, logout_networks, parse_allow_list
from ..directory import AppDirectory, Charter, app_directory
from ..settings import Settings
from ..store import Store

KEY = "ent_idp"


@dataclass
class Resources:
    settings: Settings
    directory: AppDirectory
    store: Store
    allowed_services: tuple[AllowedService, ...]
    cas_logout_networks: tuple[Network, ...]
    charter: Charter  # the CGU users accept here: [cgu] service_id and version

    @classmethod
    def build(cls, settings: Settings) -> Resources:
        return cls(
            settings=settings,
            directory=app_directory(settings),
            store=Store(settings),
            allowed_services=parse_allow_list(settings.cas.allowed_services),
            cas_logout_networks=logout_networks(settings.cas.logout_addresses, settings.cas.url),
            charter=Charter(settings.cgu.service_id, settings.cgu.version),
        )

    def close(self) -> None:
        """Release the connections (tests and short-lived commands)."""
        self.directory.connections.close()
        self.store.close()


def resources() -> Resources:
    return current_app.extensions[KEY]
