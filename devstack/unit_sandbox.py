"""Run a command under the process restrictions of a systemd unit, without systemd.

``python -m devstack.unit_sandbox UNIT -- COMMAND...`` applies what the unit's ``[Service]``
says about the process itself, then executes COMMAND:

* ``NoNewPrivileges=yes`` (prctl) and ``CapabilityBoundingSet=`` (every capability dropped
  from the bounding set: after the exec even root holds none);
* ``SystemCallFilter=`` as systemd builds it: the allowed groups and names, expanded with
  ``systemd-analyze syscall-filter``, minus the ``~`` ones; a call outside it kills the
  process (stricter than ``SystemCallErrorNumber=EPERM``, so a missing call shows);
* ``MemoryDenyWriteExecute=yes`` as systemd 252 (Debian 12) enforces it: no ``mmap`` both
  writable and executable, no ``mprotect``/``pkey_mprotect`` adding execute, no ``shmat``
  with ``SHM_EXEC``;
* ``RestrictAddressFamilies=``: ``socket()`` of any other family fails (EAFNOSUPPORT);
* ``UMask=`` and ``Environment=``;
* ``RuntimeDirectory=`` when ``UNIT_SANDBOX_RUNTIME_ROOT`` names a folder: the directory is
  made there, empty, with ``RuntimeDirectoryMode=`` (systemd makes ``/run/<name>``), and the
  ``Environment=`` values naming ``/run/<name>`` are pointed at it.

The file-system options (``ProtectSystem=``, ``PrivateTmp=``...) and ``User=`` are not
applied: they need systemd's mount namespace and the unit's user. The tests run the app and
the mail worker this way (tests/test_deploy_systemd.py), which systemd-analyze alone cannot
tell: whether CPython, gunicorn and the libraries still work under those filters.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 24, 38
SCMP_ACT_KILL_PROCESS, SCMP_ACT_ALLOW = 0x80000000, 0x7FFF0000
SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_MASKED_EQ = 4, 5, 7
PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000
FAMILIES = {"AF_UNIX": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16, "AF_PACKET": 17}
AF_MAX = 46


def SCMP_ACT_ERRNO(number: int) -> int:  # noqa: N802 (libseccomp's name)
    return 0x00050000 | (number & 0xFFFF)


class ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def service_settings(unit: Path) -> dict[str, list[str]]:
    """The ``[Service]`` keys of ``unit``, each with its values in order (lines joined)."""
    text = re.sub(r"\\\n\s*", " ", unit.read_text())
    settings: dict[str, list[str]] = {}
    section = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith(("#", ";")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def syscall_groups() -> dict[str, list[str]]:
    """systemd's syscall groups (``@name``: members, groups or calls), from systemd-analyze."""
    listing = subprocess.run(
        ["systemd-analyze", "syscall-filter"], capture_output=True, text=True, check=True
    ).stdout
    groups: dict[str, list[str]] = {}
    current = None
    for line in listing.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), [])
        elif current is not None and line.strip() and not line.strip().startswith("#"):
            current.append(line.strip())
    return groups


def _expand(names: list[str], groups: dict[str, list[str]]) -> set[str]:
    calls: set[str] = set()
    for name in names:
        calls |= _expand(groups[name], groups) if name.startswith("@") else {name}
    return calls


def allowed_syscalls(values: list[str], groups: dict[str, list[str]]) -> set[str]:
    """What ``SystemCallFilter=`` lines allow: the allow-lists, minus each ``~`` list."""
    allowed: set[str] = set()
    for value in values:
        denied = value.startswith("~")
        names = value.removeprefix("~").split()
        if denied:
            allowed -= _expand(names, groups)
        else:
            allowed |= _expand(names, groups)
    return allowed


class Filter:
    """One seccomp filter built with libseccomp."""

    def __init__(self, default_action: int) -> None:
        path = ctypes.util.find_library("seccomp")
        if path is None:
            raise RuntimeError("libseccomp not found (Debian: apt-get install libseccomp2)")
        self.lib = ctypes.CDLL(path, use_errno=True)
        self.lib.seccomp_init.restype = ctypes.c_void_p
        self.lib.seccomp_init.argtypes = [ctypes.c_uint32]
        self.lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        self.lib.seccomp_rule_add_array.argtypes = [
            *(ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint),
            ctypes.POINTER(ArgCmp),
        ]
        self.lib.seccomp_load.argtypes = [ctypes.c_void_p]
        self.ctx = self.lib.seccomp_init(default_action)

    def add(self, action: int, name: str, *compare: tuple[int, int, int, int]) -> None:
        number = self.lib.seccomp_syscall_resolve_name(name.encode())
        if number < 0:
            return  # a call this architecture does not have
        args = (ArgCmp * len(compare))(*(ArgCmp(*c) for c in compare)) if compare else None
        result = self.lib.seccomp_rule_add_array(self.ctx, action, number, len(compare), args)
        if result != 0:
            raise OSError(-result, f"seccomp rule for {name}")

    def load(self) -> None:
        result = self.lib.seccomp_load(self.ctx)
        if result != 0:
            raise OSError(-result, "seccomp_load")


def _restrictions_filter(settings: dict[str, list[str]]) -> Filter:
    """MemoryDenyWriteExecute= and RestrictAddressFamilies=, on top of the allow-list."""
    restrictions = Filter(SCMP_ACT_ALLOW)
    eperm = SCMP_ACT_ERRNO(errno.EPERM)
    if settings.get("MemoryDenyWriteExecute", ["no"])[-1] == "yes":
        both = PROT_WRITE | PROT_EXEC
        restrictions.add(eperm, "mmap", (2, SCMP_CMP_MASKED_EQ, both, both))
        for name in ("mprotect", "pkey_mprotect"):
            restrictions.add(eperm, name, (2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC))
        restrictions.add(eperm, "shmat", (2, SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC))
    if "RestrictAddressFamilies" in settings:
        kept = {FAMILIES[name] for name in settings["RestrictAddressFamilies"][-1].split()}
        refuse = SCMP_ACT_ERRNO(errno.EAFNOSUPPORT)
        for family in sorted(set(range(AF_MAX)) - kept):
            restrictions.add(refuse, "socket", (0, SCMP_CMP_EQ, family, 0))
        restrictions.add(refuse, "socket", (0, SCMP_CMP_GE, AF_MAX, 0))
    return restrictions


def confine(unit: Path) -> None:
    """Apply ``unit``'s process restrictions to this process (inherited by what it runs)."""
    settings = service_settings(unit)
    allowed = None
    if "SystemCallFilter" in settings:
        allowed = allowed_syscalls(settings["SystemCallFilter"], syscall_groups())
    libc = ctypes.CDLL(None, use_errno=True)
    if settings.get("CapabilityBoundingSet") == [""]:
        cap = 0
        while libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
            cap += 1
    if settings.get("NoNewPrivileges", ["no"])[-1] == "yes":
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    runtime = _runtime_directories(settings)
    for assignment in settings.get("Environment", []):
        key, value = assignment.split("=", 1)
        for systemd_path, made in runtime.items():
            if value == systemd_path or value.startswith(systemd_path + "/"):
                value = made + value[len(systemd_path) :]
        os.environ[key] = value
    if "UMask" in settings:
        os.umask(int(settings["UMask"][-1], 8))
    _restrictions_filter(settings).load()
    if allowed is not None:
        allow_list = Filter(SCMP_ACT_KILL_PROCESS)
        for name in sorted(allowed):
            allow_list.add(SCMP_ACT_ALLOW, name)
        allow_list.load()


def _runtime_directories(settings: dict[str, list[str]]) -> dict[str, str]:
    """``/run/<name>`` -> the folder made for it under ``$UNIT_SANDBOX_RUNTIME_ROOT``."""
    root = os.environ.pop("UNIT_SANDBOX_RUNTIME_ROOT", "")
    if not root:
        return {}
    mode = int(settings.get("RuntimeDirectoryMode", ["0755"])[-1], 8)
    made = {}
    for name in " ".join(settings.get("RuntimeDirectory", [])).split():
        folder = Path(root) / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True, mode=mode)
        made[f"/run/{name}"] = str(folder)
    return made


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        raise SystemExit("usage: python -m devstack.unit_sandbox UNIT -- COMMAND [ARG...]")
    confine(Path(argv[0]))
    os.execvp(argv[2], argv[2:])


if __name__ == "__main__":
    main(sys.argv[1:])
