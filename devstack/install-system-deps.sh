#!/bin/sh
# System packages needed by devstack (Debian 12 / Ubuntu).  Run as root.
# slapd is installed non-interactively; devstack never uses its system instance
# (it builds its own cn=config in a work directory), so the service is stopped.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends slapd ldap-utils
# The packaged daemon is not needed by devstack.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now slapd 2>/dev/null || true; fi
ls /usr/lib/ldap/ppolicy.so /usr/lib/ldap/argon2.so >/dev/null
echo "ok: $(/usr/sbin/slapd -VV 2>&1 | head -1)"
