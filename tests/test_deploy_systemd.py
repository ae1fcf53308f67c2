"""The systemd units (deploy/systemd/): valid, hardened, and the app still works inside them.

``systemd-analyze verify`` and ``systemd-analyze security --offline=yes`` read the units in
a root of their own (the ExecStart binary as a stub, the system's unit files beside them), so
nothing is installed in /etc or /opt. ``systemd-sysusers --root`` creates the user in that
root. Then ``ent-idp serve`` and ``ent-idp mail-worker`` run as their units' ExecStart says,
under the units' system-call filter, MemoryDenyWriteExecute, address families, no
capabilities and NoNewPrivileges (``devstack/unit_sandbox.py``: systemd is not the init
here), and carry an activation through to the validation mail.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from devstack.ports import free_port, terminate, wait_for_port
from devstack.unit_sandbox import service_settings

from .pages import csrf_token

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "deploy" / "systemd"
SERVICES = ["ent-idp.service", "ent-idp-mail-worker.service"]
EXPOSURE_THRESHOLD = 1.5  # systemd-analyze's scale: 0 (locked down) to 10 (nothing)
VENV_BIN = Path(sys.executable).parent
PASSWORD = "Tr0mbone-Vert-Soleil!"


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run devstack/install-system-deps.sh (make test)")
    return found


@pytest.fixture
def unit_root(tmp_path) -> Path:
    """A root for systemd-analyze: the units installed, a stub at the ExecStart path."""
    root = tmp_path / "root"
    units = root / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    for name in SERVICES:
        shutil.copy(UNITS / name, units / name)
    stub = root / "opt" / "ent-idp" / "venv" / "bin" / "ent-idp"
    stub.parent.mkdir(parents=True)
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    (root / "usr" / "lib" / "systemd").mkdir(parents=True)
    shutil.copytree(
        "/usr/lib/systemd/system", root / "usr" / "lib" / "systemd" / "system", symlinks=True
    )
    return root


@pytest.mark.parametrize("name", SERVICES)
def test_systemd_analyze_verifies_the_unit(unit_root, name):
    result = subprocess.run(
        [tool("systemd-analyze"), "verify", f"--root={unit_root}", f"/etc/systemd/system/{name}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stderr


@pytest.mark.security
@pytest.mark.parametrize("name", SERVICES)
def test_the_unit_is_locked_down(unit_root, name):
    """The app holds the directory's service password and every flow: a flaw in it or a
    library must not become the host's. systemd-analyze scores what the unit forbids; the
    shipped units stay under 1.5 (« OK »), which every hardening option above contributes to."""
    result = subprocess.run(
        [
            *(tool("systemd-analyze"), "security", "--offline=yes", f"--root={unit_root}"),
            f"--threshold={int(EXPOSURE_THRESHOLD * 10)}",
            f"/etc/systemd/system/{name}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    exposure = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)[1])
    assert exposure <= EXPOSURE_THRESHOLD, result.stdout
    assert result.returncode == 0, result.stdout + result.stderr


def test_sysusers_creates_a_system_user_without_login(tmp_path):
    (tmp_path / "etc").mkdir()
    result = subprocess.run(
        [tool("systemd-sysusers"), f"--root={tmp_path}", str(UNITS / "ent-idp.sysusers")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    [entry] = [line for line in (tmp_path / "etc" / "passwd").read_text().splitlines()]
    name, _, uid, gid, _, home, shell = entry.split(":")
    assert (name, home, shell) == ("ent-idp", "/nonexistent", "/usr/sbin/nologin")
    assert int(uid) < 1000 and uid == gid
    assert (tmp_path / "etc" / "group").read_text().startswith(f"ent-idp:x:{gid}:")


def test_both_units_read_the_same_secrets_and_config():
    for name in SERVICES:
        settings = service_settings(UNITS / name)
        assert settings["EnvironmentFile"] == ["/etc/ent-idp/secrets.env"], name
        assert "--config /etc/ent-idp/ent-idp.toml" in settings["ExecStart"][0], name
        assert settings["User"] == ["ent-idp"] and settings["Restart"] == ["on-failure"], name


# -- the app inside the units' restrictions ---------------------------------------------


def exec_start(name: str, port: int | None = None) -> list[str]:
    """The unit's ExecStart, with the venv of the tests, no config file, a free port."""
    command = shlex.split(service_settings(UNITS / name)["ExecStart"][0])
    assert command[0] == "/opt/ent-idp/venv/bin/ent-idp"
    command[0] = str(VENV_BIN / "ent-idp")
    command[command.index("--config") + 1] = "/dev/null"  # the settings come by environment
    if port is not None:
        command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    return [sys.executable, "-m", "devstack.unit_sandbox", str(UNITS / name), "--", *command]


def environment(settings: dict, url: str) -> dict[str, str]:
    values = {**settings, "PUBLIC_URL": url, "ALLOWED_HOSTS": [], "MAIL_RETRY_SECONDS": 1}
    values.pop("TESTING")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENT_IDP_")}
    for key, value in values.items():
        env[f"ENT_IDP_{key}"] = ",".join(value) if isinstance(value, list) else str(value)
    return env


def scrape(port: int) -> str:
    return requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text


def test_the_sandbox_is_real():
    """What the next test relies on: under the unit's restrictions a writable and
    executable page, a netlink socket and a call outside the filter are all refused."""
    probe = (
        "import mmap, os, socket\n"
        "for attempt in (lambda: mmap.mmap(-1, 4096, prot=mmap.PROT_WRITE | mmap.PROT_EXEC),"
        " lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)):\n"
        "    try:\n        attempt()\n        raise SystemExit('allowed')\n"
        "    except OSError as exc:\n        print(exc.errno)\n"
        "os.setpriority(os.PRIO_PROCESS, 0, 5)\n"
    )
    command = [sys.executable, "-m", "devstack.unit_sandbox", str(UNITS / SERVICES[0]), "--"]
    result = subprocess.run(
        [*command, sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.split() == ["1", "97"], result.stderr  # EPERM, EAFNOSUPPORT
    assert result.returncode == -signal.SIGSYS


@pytest.mark.security
def test_the_app_and_the_mail_worker_work_inside_their_units(
    settings, app, stack, accounts, tmp_path
):
    """MemoryDenyWriteExecute, the system-call filter and the address families must not break
    CPython, gunicorn or a library (the hashing, the TLS, the C parser of Redis, the
    metrics' shared files): an activation goes through, gunicorn tells systemd it is ready,
    the mail is delivered, and both processes' metrics count it (the app's 4 workers adding
    up their files in the unit's RuntimeDirectory, as PROMETHEUS_MULTIPROC_DIR)."""
    account = accounts.create("pending")
    port, metrics_port, worker_port = free_port(), free_port(), free_port()
    url = f"http://127.0.0.1:{port}/"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(f"\0ent-idp-notify-{port}")  # abstract: no file, as systemd's socket
    notify.settimeout(30)
    metrics = {
        "METRICS_BIND": f"127.0.0.1:{metrics_port}",
        "METRICS_WORKER_BIND": f"127.0.0.1:{worker_port}",
    }
    env = {
        **environment({**settings, **metrics}, url),
        "NOTIFY_SOCKET": f"@ent-idp-notify-{port}",
        "UNIT_SANDBOX_RUNTIME_ROOT": str(tmp_path / "run"),  # systemd's /run
    }
    log = (tmp_path / "units.log").open("wb")
    serve = subprocess.Popen(exec_start(SERVICES[0], port), env=env, stdout=log, stderr=log)
    worker = subprocess.Popen(exec_start(SERVICES[1]), env=env, stdout=log, stderr=log)
    try:
        assert notify.recv(4096).startswith(b"READY=1"), "Type=notify: gunicorn says it is ready"
        wait_for_port("127.0.0.1", port, time.monotonic() + 30, "ent-idp serve", serve)
        with requests.Session() as browser:
            steps = [
                ("activation", {"login": account["login"], "password": account["password"]}),
                ("activation/cgu", {"accept": "y"}),
                (
                    "activation/adresses",
                    {"backup_mail": "u@example.net", "confirm": "u@example.net"},
                ),
                ("activation/mot-de-passe", {"password": PASSWORD, "confirm": PASSWORD}),
            ]
            for path, form in steps:
                token = csrf_token(browser.get(f"{url}{path}", timeout=10).text)
                response = browser.post(
                    f"{url}{path}", data={"csrf_token": token, **form}, timeout=30
                )
                assert response.status_code == 200, (path, response.status_code)
            assert "Compte activé" in response.text
        [message] = stack.smtp.wait_for(1)
        assert "u@example.net" in message["To"]
        app_metrics = scrape(metrics_port)
        assert 'ent_idp_flows_completed_total{flow="activation"} 1.0' in app_metrics
        assert "ent_idp_ready 1.0" in app_metrics
        sent = 'ent_idp_mails_total{result="sent"} 1.0'
        deadline = time.monotonic() + 10  # counted once the SMTP server said 250
        while sent not in scrape(worker_port):
            assert time.monotonic() < deadline, scrape(worker_port)
            time.sleep(0.1)
        assert list((tmp_path / "run" / "ent-idp").glob("*.db")), "the workers' shared files"
        assert serve.poll() is None and worker.poll() is None
    finally:
        terminate(worker)
        terminate(serve)
        notify.close()
        log.close()
    output = (tmp_path / "units.log").read_text(errors="replace")
    assert "Traceback" not in output, output
    assert accounts.read(account["dn"])["entidpaccountstate"] == [b"active"]
