"""The regional ENTs' ESCO/SDET directory, as the demo and the tests run it.

``ENT_IDP_DEMO_PROFILE=esco make demo`` and the ESCO tests load the same files from
``devstack/esco/``: the schema (``esco-schema.ldif``, written from the published facts, with
placeholder OIDs), the rights the service account needs on the ESCO attributes
(``esco-config.ldif``) and one demo account per user profile (``demo-accounts.ldif``).
The CAS in front of it logs users in with ``ENTPersonLogin``, gives tickets to ``VALIDE``
accounts only, except for ent-idp's federated activation, and stands in for ÉduConnect with
one demo password for the entries of the federated profile (``devstack.cas.auth``).
"""

from __future__ import annotations

from pathlib import Path

from .slapd import Slapd

HERE = Path(__file__).resolve().parent / "esco"
SCHEMA = HERE / "esco-schema.ldif"
CONFIG = HERE / "esco-config.ldif"
DEMO_ACCOUNTS = HERE / "demo-accounts.ldif"

# This deployment's charter: what its acceptances are filed under, and the version in force.
SERVICE_ID = "ent-idp-demo"
CGU_VERSION = "20260901"
# The demo's stand-in for ÉduConnect: the one password CAS takes for a federated entry.
FEDERATION_PASSWORD = "Educonnect-Demo-2026"
# The filter of the default "educonnect" user profile (ent_idp.settings.user_profiles).
FEDERATED_FILTER = "(ESCOPersonProfils=EDUCONNECT)"
FEDERATED_ACTIVATION = "activation-federee"  # ent-idp's path that takes accounts not active yet

ACCOUNTS = f"""\
  lea.dupont      pupil     pending, backup address always asked   Provisoire-Lea-2026
  marc.dupont     parent    pending, backup address always asked   Provisoire-Marc-2026
  sophie.bernard  teacher   reset, academic address known: no     Provisoire-Sophie-2026
                            backup-address step (another service's charter kept)
  hugo.martin     pupil     ÉduConnect, pending: no password       at CAS: {FEDERATION_PASSWORD}
                            here; activates through CAS            (the demo's ÉduConnect)
  ines.garnier    apprentice of the CFA (ESCODomaines            Provisoire-Ines-2026
                            cfa.netocentre.fr), pending: the CFA's pages only
  (the others are the lycées' (lycees.netocentre.fr): the CFA's pages refuse them)"""
# The demo's second ENT on the ESCO directory: its domain, charter id and version.
CFA_DOMAIN, CFA_SERVICE_ID, CFA_CGU_VERSION = "cfa.netocentre.fr", "ent-idp-demo-cfa", "20261001"


def slapd(workdir: Path, port: int, **options) -> Slapd:
    """A slapd with the shipped schema plus the ESCO one and its rights (no account yet)."""
    return Slapd(workdir, port, extra_schemas=(SCHEMA,), extra_config=(CONFIG,), **options)


def app_settings() -> dict[str, object]:
    """What an ESCO deployment sets (flat names), on top of the usual ones."""
    return {"LDAP_PROFILE": "esco", "CGU_SERVICE_ID": SERVICE_ID, "CGU_VERSION": CGU_VERSION}


def cas_options(ent_idp_url: str) -> dict[str, object]:
    """The CasServer options of an ESCO directory (see devstack.cas_server.CasServer)."""
    return {
        "login_attribute": "ENTPersonLogin",
        "active_filter": ("ESCOPersonEtatCompte", "(?i)^valide$"),
        "any_state": [f"{ent_idp_url}{FEDERATED_ACTIVATION}"],
        "federation": ("ÉduConnect", FEDERATION_PASSWORD, FEDERATED_FILTER),
    }
