"""OpenLDAP multi-provider replication for the devstack: two (or more) slapd providers,
each a :class:`devstack.slapd.Slapd` (the shipped schema, ppolicy, argon2 and ACLs, as
always), replicating each other's writes by syncrepl.

What each provider adds to its cn=config, before any data is written:

* ``olcServerID`` (1, 2, ...) on cn=config: the server's part of every entryCSN;
* the ``syncprov`` module and overlay on the accounts database, **without** a session log
  (``olcSpSessionlog``): with one, slapd 2.5.13 replays only the deletes to a provider that
  comes back after missing adds, modifies and a delete, and the adds and modifies never
  reach it (both contextCSNs equal, the data different). Without one, a returning provider
  gets a full present phase and catches up (tests/test_cluster_services.py);
* one ``olcSyncrepl`` per peer: refreshAndPersist, retried every second for ever, TCP
  keepalive to notice a peer gone silent, no ``timeout`` (with one, stopping a provider
  waits that long for its consumer to give up: 4.5 s instead of 0.05), bound as the peer's
  **rootdn**: the devstack's replication identity reads every attribute, operational ones
  and ``userPassword`` included, and no size limit applies to it (a deployment uses a
  dedicated replicator with read on everything and ``olcLimits`` unlimited);
* ``olcMultiProvider: TRUE``.

Only the first provider is seeded (base entries, default policy); the others start empty and
get everything from it, so every entry has one entryUUID everywhere.

Usage::

    a, b = providers(Path("/tmp/ldap"), [3891, 3892])
    for p in (a, b): p.start()
    wait_in_sync([a, b], timeout=10)
"""

from __future__ import annotations

import time
from pathlib import Path

import ldap3

from .slapd import Slapd, SlapdError, _close

RETRY = "1 +"  # syncrepl: retry every second, for ever (a stopped peer comes back)


class ReplicatedSlapd(Slapd):
    """A slapd provider with ``server_id``, replicating from (and to) ``peers``' URLs."""

    def __init__(
        self, workdir: Path, port: int, *, server_id: int, peers: list[str], seeds: bool, **kw
    ) -> None:
        super().__init__(workdir, port, **kw)
        if not 1 <= server_id <= 4095:
            raise SlapdError(f"olcServerID must be in 1..4095, not {server_id}")
        self.server_id = server_id
        self.peers = list(peers)
        self.seeds = seeds

    def _seed(self) -> None:
        self._ldapmodify(self.replication_ldif(), self.config_admin_dn, self.admin_password)
        if self.seeds:
            super()._seed()

    def replication_ldif(self) -> str:
        """The cn=config changes that make this server a provider of a multi-provider set."""
        syncrepl = "\n".join(
            f"olcSyncrepl: rid={rid:03d} provider={url} bindmethod=simple"
            f' binddn="{self.admin_dn}" credentials="{self.admin_password}"'
            f' searchbase="{self.suffix}" type=refreshAndPersist retry="{RETRY}"'
            " network-timeout=5 keepalive=30:3:10"
            for rid, url in enumerate(self.peers, start=1)
        )
        return f"""dn: cn=config
changetype: modify
replace: olcServerID
olcServerID: {self.server_id}
-

dn: cn=module{{0}},cn=config
changetype: modify
add: olcModuleLoad
olcModuleLoad: syncprov
-

dn: olcOverlay=syncprov,olcDatabase={{1}}mdb,cn=config
changetype: add
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: syncprov
olcSpCheckpoint: 100 10

dn: olcDatabase={{1}}mdb,cn=config
changetype: modify
add: olcDbIndex
olcDbIndex: entryCSN eq
olcDbIndex: entryUUID eq
-
add: olcSyncrepl
{syncrepl}
-
replace: olcMultiProvider
olcMultiProvider: TRUE
-
"""


def providers(base: Path, ports: list[int], **kw) -> list[ReplicatedSlapd]:
    """One provider per port under ``base/ldap-<n>``, each replicating from all the others;
    the first one seeds the data. ``kw`` goes to :class:`Slapd` (passwords, suffix...)."""
    urls = [f"ldap://127.0.0.1:{port}" for port in ports]
    return [
        ReplicatedSlapd(
            Path(base) / f"ldap-{n}",
            port,
            server_id=n,
            peers=[url for url in urls if url != urls[n - 1]],
            seeds=n == 1,
            **kw,
        )
        for n, port in enumerate(ports, start=1)
    ]


def context_csns(slapd: Slapd) -> set[str]:
    """The contextCSN values of the suffix: one per server ID that has written."""
    conn = slapd.admin_connection()
    try:
        conn.search(slapd.suffix, "(objectClass=*)", ldap3.BASE, attributes=["contextCSN"])
        if not conn.response or conn.result["result"] != 0:
            return set()
        return set(conn.response[0]["raw_attributes"].get("contextCSN", []))
    finally:
        _close(conn)


def wait_in_sync(slapds: list[Slapd], timeout: float = 10) -> float:
    """Wait until every provider has the same non-empty contextCSN; return the seconds taken."""
    start = time.monotonic()
    deadline = start + timeout
    delay = 0.005
    while True:
        seen = [context_csns(s) for s in slapds]
        if seen[0] and all(csns == seen[0] for csns in seen):
            return time.monotonic() - start
        if time.monotonic() > deadline:
            raise SlapdError(f"providers not in sync after {timeout}s: {seen}")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def wait_for(slapd: Slapd, dn: str, attribute: str, value: str | None, timeout: float) -> float:
    """Wait until ``dn``'s ``attribute`` on ``slapd`` is ``value`` (None: the entry or the
    attribute is absent), read as the rootdn; return the seconds taken."""
    start = time.monotonic()
    deadline = start + timeout
    conn = slapd.admin_connection()
    try:
        while True:
            current = read_attribute(conn, dn, attribute)
            if current == value:
                return time.monotonic() - start
            if time.monotonic() > deadline:
                raise SlapdError(
                    f"{dn} {attribute} on {slapd.url} is {current!r}, not {value!r}, "
                    f"after {timeout}s"
                )
            time.sleep(0.001)
    finally:
        _close(conn)


def read_attribute(conn: ldap3.Connection, dn: str, attribute: str) -> str | None:
    """The first value of ``attribute`` of ``dn`` (operational ones too), or None."""
    conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=[attribute])
    if conn.result["result"] != 0 or not conn.response:
        return None
    for name, values in conn.response[0]["raw_attributes"].items():
        if name.lower() == attribute.lower() and values:
            return values[0].decode()
    return None
