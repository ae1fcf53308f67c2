"""Create/upgrade the SQLite database and register the allowed services (idempotent).

``python -m devstack.cas.bootstrap URL_PREFIX...`` with the DEVSTACK_CAS_* environment of
settings.py. Each prefix becomes a ServicePattern ``^<escaped prefix>.*$`` releasing the
attributes of RELEASED_ATTRIBUTES; patterns not in the list are removed, so the registry
always matches what the launcher asked for.

``--active-only`` adds a FilterAttributValue ``entIdpAccountState`` = ``active`` (or
``DEVSTACK_CAS_ACTIVE_ATTRIBUTE`` matching ``DEVSTACK_CAS_ACTIVE_PATTERN``: ESCO's
``ESCOPersonEtatCompte`` = VALIDE) to every pattern: a pending/reset account binds fine with
its provisional password (ppolicy's pwdReset only restricts what it may do afterwards, and
django-cas-server's bind check does not look at the ppolicy response), so without the
filter it would get service tickets. ``--any-state=PREFIX`` registers a prefix without that
filter, checked first: ent-idp's federated activation (``<ent-idp>activation-federee``) is
where accounts that are not active yet must get a ticket (ent-idp checks the rest).
``--single-log-out`` turns SLO on for every pattern.
"""

from __future__ import annotations

import os
import re
import sys

RELEASED_ATTRIBUTES = ("uid", "mail", "cn", "givenName", "sn")
ACTIVE_FILTER = ("entIdpAccountState", "^active$")


def pattern_for(prefix: str) -> str:
    return "^" + re.escape(prefix) + ".*$"


def active_filter() -> tuple[str, str]:
    attribute = os.environ.get("DEVSTACK_CAS_ACTIVE_ATTRIBUTE")
    pattern = os.environ.get("DEVSTACK_CAS_ACTIVE_PATTERN")
    return (attribute, pattern) if attribute and pattern else ACTIVE_FILTER


def sync_services(
    prefixes: list[str],
    single_log_out: bool = False,
    active_only: bool = False,
    any_state: tuple[str, ...] = (),
) -> None:
    from cas_server.models import FilterAttributValue, ReplaceAttributName, ServicePattern
    from django.db import transaction

    # Patterns are tried in order (pos): the prefixes open to any state come first.
    wanted = {pattern_for(p): p for p in (*any_state, *prefixes)}
    with transaction.atomic():
        ServicePattern.objects.exclude(pattern__in=list(wanted)).delete()
        for pos, (pattern, prefix) in enumerate(wanted.items()):
            sp, _ = ServicePattern.objects.update_or_create(
                pattern=pattern,
                defaults={
                    "pos": pos,
                    "name": prefix,
                    "single_log_out": single_log_out,
                    "proxy": False,
                    "proxy_callback": False,
                    "restrict_users": False,
                },
            )
            sp.attributs.exclude(name__in=RELEASED_ATTRIBUTES).delete()
            for name in RELEASED_ATTRIBUTES:
                ReplaceAttributName.objects.get_or_create(service_pattern=sp, name=name, replace="")
            sp.filters.all().delete()
            if active_only and prefix not in any_state:
                attribute, value = active_filter()
                FilterAttributValue.objects.create(
                    service_pattern=sp, attribut=attribute, pattern=value
                )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    single_log_out = "--single-log-out" in args
    active_only = "--active-only" in args
    any_state = tuple(a.split("=", 1)[1] for a in args if a.startswith("--any-state="))
    prefixes = [a for a in args if not a.startswith("--")]
    if not prefixes:
        print(
            "usage: python -m devstack.cas.bootstrap [--single-log-out] [--active-only] "
            "[--any-state=URL_PREFIX]... URL_PREFIX...",
            file=sys.stderr,
        )
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devstack.cas.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    sync_services(prefixes, single_log_out, active_only, any_state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
