"""An SMTP server that stores every message it receives as a ``.eml`` file.

Run as ``python -m devstack.smtp_sink --port 2525 --maildir DIR``; ``SmtpSink`` starts it as
a child process so tests can stop and start it for real. With ``--tls starttls`` or
``--tls implicit`` and ``--tls-cert PEM`` (certificate chain and key) it speaks TLS, as a
real MTA would. Like a real MTA it refuses some recipients: a local part starting with
``refused-`` gets a permanent 550, one starting with ``deferred-`` a temporary 451.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import signal
import ssl
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

from .ports import terminate, wait_for_port


class _Handler:
    def __init__(self, maildir: Path):
        self.maildir = maildir
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, options) -> str:  # noqa: N802
        local = address.partition("@")[0]
        if local.startswith("refused-"):
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        if local.startswith("deferred-"):
            return f"451 4.3.0 <{address}>: try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd API)
        self.count += 1
        name = f"{time.time_ns()}-{self.count:05d}.eml"
        tmp = self.maildir / f".{name}.tmp"
        data = envelope.original_content or envelope.content
        # SMTP carries lines ending in CRLF; store them the Unix way, as local delivery
        # does, so a parsed body reads back exactly what the application wrote.
        # As an MTA's Received header would, say which SMTP connection brought it, and
        # whether it was encrypted (the TLS version, or "none").
        host, port = session.peer[:2]
        tls = server.transport.get_extra_info("ssl_object")
        trace = f"X-Peer: {host}:{port}\nX-TLS: {tls.version() if tls else 'none'}\n"
        tmp.write_bytes(trace.encode() + data.replace(b"\r\n", b"\n"))
        os.replace(tmp, self.maildir / name)  # readers never see half a message
        return "250 Message accepted for delivery"


def serve(
    host: str, port: int, maildir: Path, tls: str | None = None, cert: Path | None = None
) -> None:
    from aiosmtpd.controller import Controller

    maildir.mkdir(parents=True, exist_ok=True)
    # SmtpSink.stop() sends SIGTERM: leave through the ``finally`` so the port is released
    # cleanly instead of dying mid-way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    options: dict = {}
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert)
        options = {"ssl_context": context} if tls == "implicit" else {"tls_context": context}
    controller = Controller(_Handler(maildir), hostname=host, port=port, **options)
    controller.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


class SmtpSink:
    def __init__(
        self,
        maildir: Path,
        port: int,
        host: str = "127.0.0.1",
        tls: str | None = None,
        cert: Path | None = None,
    ):
        """``tls``: None, "starttls" or "implicit", with ``cert`` (chain and key, PEM)."""
        self.maildir = Path(maildir)
        self.host = host
        self.port = port
        self.tls = tls
        self.cert = cert
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 20) -> None:
        self.maildir.mkdir(parents=True, exist_ok=True)
        tls = ["--tls", self.tls, "--tls-cert", str(self.cert)] if self.tls else []
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devstack.smtp_sink",
                "--host",
                self.host,
                "--port",
                str(self.port),
                "--maildir",
                str(self.maildir),
                *tls,
            ],
            cwd=Path(__file__).resolve().parent.parent,
        )
        wait_for_port(
            self.host, self.port, time.monotonic() + timeout, "the SMTP sink", self._process
        )

    def stop(self) -> None:
        terminate(self._process)
        self._process = None

    def messages(self) -> list[EmailMessage]:
        """Every message received, in arrival order."""
        return [
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(self.maildir.glob("*.eml"))
        ]

    def wait_for(self, count: int, timeout: float = 10) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages()
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def clear(self) -> None:
        for path in self.maildir.glob("*.eml"):
            path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--maildir", type=Path, required=True)
    parser.add_argument("--tls", choices=("starttls", "implicit"))
    parser.add_argument("--tls-cert", type=Path, help="certificate chain and key (PEM)")
    args = parser.parse_args()
    if args.tls and not args.tls_cert:
        parser.error("--tls needs --tls-cert")
    serve(args.host, args.port, args.maildir, args.tls, args.tls_cert)


if __name__ == "__main__":
    main()
