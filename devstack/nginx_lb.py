"""nginx as the load balancer of the devstack cluster: a child process with its own config,
pid, logs and temp files in a work dir (nothing system-wide: ``nginx -p <dir> -c <conf> -e
<log> -g 'daemon off;'``).

The config (:func:`nginx_config`) proxies every request to an upstream of N app addresses:

* **round robin, no stickiness** (nginx's default balancing; ``zone``: one rotation shared by
  the workers), so every request may land on any app instance, as in production;
* ``X-Forwarded-For $remote_addr``: **overwritten**, not appended. nginx is the first hop;
  ``$proxy_add_x_forwarded_for`` would pass on whatever the client wrote there ("6.6.6.6,
  <real>"), and the app would be one ``proxy_count`` mistake away from throttling a forged
  address. Overwritten, the app receives exactly one address, the one nginx saw.
  ``X-Forwarded-Proto $scheme``; ``Host`` as the client sent it (the app checks it against
  ``allowed_hosts``); ``X-Forwarded-Host``, ``X-Real-IP`` and ``Forwarded`` from clients are
  dropped (the app uses none of them);
* ``proxy_next_upstream error timeout``: a request goes to the next app when the connection
  fails or times out. nginx does **not** resend a non-idempotent request (POST, PATCH, LOCK)
  once it was sent to an app (``non_idempotent`` is not listed, on purpose): an app that dies
  in the middle of a POST may have written to LDAP, queued a mail or consumed a token, so
  the user gets a 502 instead of a second, blind execution. A POST whose connection was
  refused is still passed on: no app saw it.
* idle connections to the apps are kept (``keepalive``) for 1 s only, less than gunicorn's
  keep-alive (2 s): nginx never writes a request on a connection the app is closing, where
  a POST would be lost with a 502.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from .ports import check_port_free, terminate, wait_for_port

FIX_HINT = "run devstack/install-system-deps.sh (Debian: apt-get install nginx)"
TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def _find_nginx() -> str:
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(f"nginx not found: {FIX_HINT}")


def nginx_config(workdir: Path, port: int, upstreams: list[tuple[str, int]]) -> str:
    """The whole nginx.conf: listen on 127.0.0.1:``port``, balance over ``upstreams``."""
    servers = "\n".join(f"        server {host}:{p} fail_timeout=5s;" for host, p in upstreams)
    temps = "\n".join(f"    {name}_temp_path {workdir}/tmp/{name};" for name in TEMP_DIRS)
    # Workers of a master started as root would run as "nobody", who cannot enter a private
    # work dir (pytest's tmp dirs are 0700): keep them as root, the devstack's user.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""# Written by devstack/nginx_lb.py; see its docstring for each choice.
{user}worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log notice;

events {{
    worker_connections 512;
}}

http {{
    log_format balanced '$remote_addr "$request" $status upstream=$upstream_addr '
                        'upstream_status=$upstream_status';
    access_log {workdir}/access.log balanced;
{temps}

    upstream ent_idp {{
        zone ent_idp 64k;
{servers}
        keepalive 16;
        keepalive_timeout 1s;
    }}

    server {{
        listen 127.0.0.1:{port};
        server_name _;

        location / {{
            proxy_pass http://ent_idp;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host "";
            proxy_set_header X-Real-IP "";
            proxy_set_header Forwarded "";
            proxy_next_upstream error timeout;
            proxy_connect_timeout 2s;
            proxy_read_timeout 30s;
        }}
    }}
}}
"""


class Nginx:
    """nginx on ``127.0.0.1:<port>`` in front of ``upstreams`` ((host, port) pairs)."""

    def __init__(self, workdir: Path, port: int, upstreams: list[tuple[str, int]]) -> None:
        self.workdir = Path(workdir).resolve()
        self.port = port
        self.upstreams = list(upstreams)
        self.url = f"http://127.0.0.1:{port}/"
        self.config_path = self.workdir / "nginx.conf"
        self.error_log = self.workdir / "error.log"
        self.access_log = self.workdir / "access.log"
        self._process: subprocess.Popen | None = None

    def _command(self, *extra: str) -> list[str]:
        return [
            _find_nginx(),
            *("-p", str(self.workdir), "-c", str(self.config_path), "-e", str(self.error_log)),
            *extra,
        ]

    def config(self) -> str:
        """The nginx.conf this instance runs (devstack/nginx_site.py runs the shipped site)."""
        return nginx_config(self.workdir, self.port, self.upstreams)

    def start(self, timeout: float = 10) -> None:
        for name in TEMP_DIRS:
            (self.workdir / "tmp" / name).mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config())
        check = subprocess.run(self._command("-t", "-q"), capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx refused {self.config_path}:\n{check.stderr.strip()}")
        check_port_free(self.port, "nginx")
        with (self.workdir / "nginx.out").open("ab") as out:
            self._process = subprocess.Popen(
                self._command("-g", "daemon off;"), stdout=out, stderr=out
            )
        deadline = time.monotonic() + timeout
        try:
            wait_for_port("127.0.0.1", self.port, deadline, "nginx", self._process)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{exc}; see {self.error_log}") from None

    def stop(self) -> None:
        """SIGTERM: nginx's master stops its workers and exits."""
        terminate(self._process)
        self._process = None
