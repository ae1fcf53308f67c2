#!/usr/bin/env bash
# The Debian packages the demo and the tests need, installed only when missing:
# slapd (with its ppolicy, argon2 and syncprov modules), the ldap-utils, redis-server (its
# binary also runs the Sentinels: redis-server --sentinel), nginx (the load balancer of
# make demo-cluster and the cluster tests; on Debian 12 nginx-light is only a transitional
# package pulling nginx), Chromium for the browser tests, npm for axe-core, a font for the
# screenshots, and promtool (only that binary, out of Debian's prometheus package: the tests
# check deploy/prometheus/ with it; no Prometheus server is installed or started).
# Safe to run again: it does nothing then.
set -euo pipefail

missing=()
command -v slapd >/dev/null 2>&1 || [[ -x /usr/sbin/slapd ]] || missing+=(slapd)
[[ -e /usr/lib/ldap/ppolicy.so && -e /usr/lib/ldap/argon2.so && -e /usr/lib/ldap/syncprov.so ]] ||
  missing+=(slapd)
command -v ldapmodify >/dev/null 2>&1 || missing+=(ldap-utils)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] || missing+=(fonts-dejavu-core)
need_promtool=false
command -v promtool >/dev/null 2>&1 || need_promtool=true

if ((${#missing[@]} == 0)) && ! $need_promtool; then
  exit 0
fi
if ((${#missing[@]} > 0)); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
fi

sudo=()
if [[ $(id -u) != 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "Missing Debian packages: ${missing[*]}." >&2
    echo "Install them as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
if $need_promtool; then
  echo "Installing promtool (from Debian's prometheus package) as /usr/local/bin/promtool"
  download=$(mktemp -d)
  chmod 0777 "$download"  # apt's _apt user writes the download there
  (cd "$download" && apt-get download -qq prometheus >/dev/null)
  dpkg-deb --fsys-tarfile "$download"/prometheus_*.deb | tar -x -C "$download" ./usr/bin/promtool
  "${sudo[@]}" install -m 0755 "$download/usr/bin/promtool" /usr/local/bin/promtool
  rm -rf "$download"
fi
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "Installing Debian packages: ${missing[*]}"
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# The packages start system-wide daemons (ports 389, 6379 and 80); the project starts its own
# instances on other ports, so stop those and keep them from starting at boot. Containers
# usually have no systemd (and often a policy-rc.d that kept the daemons from starting at
# all): try each init front-end and tolerate every failure.
for service in slapd redis-server nginx; do
  if [[ -d /run/systemd/system ]]; then  # systemd is the running init
    "${sudo[@]}" systemctl disable --now "$service" >/dev/null 2>&1 || true
  else
    "${sudo[@]}" service "$service" stop >/dev/null 2>&1 ||
      "${sudo[@]}" invoke-rc.d "$service" stop >/dev/null 2>&1 || true
    "${sudo[@]}" update-rc.d "$service" disable >/dev/null 2>&1 || true
  fi
done
echo "Debian packages installed."
