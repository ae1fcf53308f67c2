"""ent-idp: account activation and reset self-service for school ENTs.

The package's folders are its layers (README, Code map): ``web/`` and ``cli/`` on top, the
user-facing capabilities in ``domain/``, what they share in ``core/``, then ``directory/``
(ldap3), ``store/`` (redis-py), ``mails``, ``cas``, and ``settings`` with ``errors`` below.
"""

from __future__ import annotations

from .web import create_app

__all__ = ["create_app"]
