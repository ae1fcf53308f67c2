"""Where the files shipped beside the code live: templates, LDAP schema, example config.

In a checkout they sit at the top of the tree; an installed copy carries them under
``<prefix>/share/ent-idp/`` (see ``[options.data_files]`` in ``setup.cfg``).
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """The folder holding ``templates/``, ``ldap_schema/`` and ``config/``."""
    candidates = [
        _CHECKOUT,
        Path(sysconfig.get_path("data")) / "share" / "ent-idp",
        Path(sys.prefix) / "share" / "ent-idp",
    ]
    for candidate in candidates:
        if (candidate / "templates" / "base.html").is_file():
            return candidate
    searched = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"ent-idp templates not found (looked in {searched}); reinstall ent-idp"
    )


def templates_dir(override: str = "") -> Path:
    """The deployment's own templates when configured, else the shipped ones."""
    return Path(override) if override else shared_dir() / "templates"
