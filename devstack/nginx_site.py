"""The shipped nginx site (``deploy/nginx/ent-idp.conf``) as a child process, for the tests.

Nothing system-wide: the config, pid, logs and temp files live in a work dir (see
``devstack/nginx_lb.py``, whose process handling this reuses). The site file is taken as
shipped; :func:`adapt_site` replaces only what a deployment replaces too, each replacement
checked to hit exactly the lines it should:

* the listen ports (``80``, ``443``) by free ports on the loopback (IPv4 and IPv6);
* the upstream address (``127.0.0.1:8080``) by the app's;
* file paths: the certificate and key, the access log, the folder of the error pages.

Every other line (headers, TLS settings, bounds, locations, redirects) runs as shipped,
inside an ``http`` block with the settings of Debian's ``/etc/nginx/nginx.conf`` that apply
to a site (``gzip on``, Debian's ``ssl_protocols``...), so the site is tried as it would run
there: anything it must override, it overrides itself.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path

from .nginx_lb import TEMP_DIRS, Nginx

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "deploy" / "nginx" / "ent-idp.conf"
ERROR_PAGES = ROOT / "deploy" / "nginx" / "errors"


@dataclass
class SitePaths:
    certificate: Path
    key: Path
    access_log: Path
    error_pages: Path = ERROR_PAGES


def _replace(text: str, old: str, new: str, count: int) -> str:
    found = text.count(old)
    if found != count:
        raise ValueError(
            f"{SHIPPED.name}: expected {count} × {old!r}, found {found}: update adapt_site() "
            "in devstack/nginx_site.py along with the site file"
        )
    return text.replace(old, new)


def adapt_site(
    text: str, *, http_port: int, https_port: int, upstream: str, paths: SitePaths
) -> str:
    """The shipped site with only ports, upstream address and file paths replaced."""
    replacements = [
        ("listen 80;", f"listen 127.0.0.1:{http_port};", 1),
        ("listen [::]:80;", f"listen [::1]:{http_port};", 1),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;", 1),
        ("listen [::]:443 ssl http2;", f"listen [::1]:{https_port} ssl http2;", 1),
        ("server 127.0.0.1:8080;", f"server {upstream};", 1),
        ("/etc/ssl/ent-idp/fullchain.pem;", f"{paths.certificate};", 1),
        ("/etc/ssl/ent-idp/privkey.pem;", f"{paths.key};", 1),
        ("/var/log/nginx/ent-idp.access.log", str(paths.access_log), 2),
        ("alias /var/www/ent-idp/errors/;", f"alias {paths.error_pages}/;", 1),
    ]
    for old, new, count in replacements:
        text = _replace(text, old, new, count)
    return text


def changed_lines(shipped: str, adapted: str) -> list[str]:
    """The shipped lines that :func:`adapt_site` changed (for the tests to check)."""
    diff = difflib.ndiff(shipped.splitlines(), adapted.splitlines())
    return [line[2:] for line in diff if line.startswith("- ")]


def main_config(workdir: Path, site: Path) -> str:
    """nginx.conf around the site: Debian's http settings, paths in the work dir."""
    temps = "\n".join(f"    {name}_temp_path {workdir}/tmp/{name};" for name in TEMP_DIRS)
    user = "user root;\n" if os.geteuid() == 0 else ""  # see nginx_lb.nginx_config
    return f"""# Written by devstack/nginx_site.py: Debian's nginx.conf, paths in the work dir.
{user}worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log notice;

events {{
    worker_connections 512;
}}

http {{
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers on;
    gzip on;
{temps}

    include {site};
}}
"""


class NginxSite(Nginx):
    """nginx running ``deploy/nginx/ent-idp.conf`` in front of the app at ``upstream``."""

    def __init__(
        self, workdir: Path, *, http_port: int, https_port: int, upstream: str, paths: SitePaths
    ) -> None:
        super().__init__(workdir, https_port, [])
        self.http_port = http_port
        self.https_port = https_port
        self.shipped = SHIPPED.read_text(encoding="utf-8")
        self.site = adapt_site(
            self.shipped,
            http_port=http_port,
            https_port=https_port,
            upstream=upstream,
            paths=paths,
        )
        self.site_path = self.workdir / "ent-idp.conf"

    def config(self) -> str:
        self.site_path.write_text(self.site, encoding="utf-8")
        return main_config(self.workdir, self.site_path)
