"""An SMTP server that stores every message it receives as a ``.eml`` file.

Run as ``python -m devstack.smtp_sink --port 2525 --maildir DIR``; ``SmtpSink`` starts it as
a child process so tests can stop and start it for real.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import signal
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

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd API)
        self.count += 1
        name = f"{time.time_ns()}-{self.count:05d}.eml"
        tmp = self.maildir / f".{name}.tmp"
        data = envelope.original_content or envelope.content
        # SMTP carries lines ending in CRLF; store them the Unix way, as local delivery
        # does, so a parsed body reads back exactly what the application wrote.
        # As an MTA's Received header would, say which SMTP connection brought it.
        host, port = session.peer[:2]
        peer = f"X-Peer: {host}:{port}\n".encode()
        tmp.write_bytes(peer + data.replace(b"\r\n", b"\n"))
        os.replace(tmp, self.maildir / name)  # readers never see half a message
        return "250 Message accepted for delivery"


def serve(host: str, port: int, maildir: Path) -> None:
    from aiosmtpd.controller import Controller

    maildir.mkdir(parents=True, exist_ok=True)
    # SmtpSink.stop() sends SIGTERM: leave through the ``finally`` so the port is released
    # cleanly instead of dying mid-way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    controller = Controller(_Handler(maildir), hostname=host, port=port)
    controller.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


class SmtpSink:
    def __init__(self, maildir: Path, port: int, host: str = "127.0.0.1"):
        self.maildir = Path(maildir)
        self.host = host
        self.port = port
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 20) -> None:
        self.maildir.mkdir(parents=True, exist_ok=True)
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
    args = parser.parse_args()
    serve(args.host, args.port, args.maildir)


if __name__ == "__main__":
    main()
