"""Running the real ``ent-idp`` mail commands as a deployment would: a TOML file or the
environment for settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ent_idp.settings import DEFAULTS, flask_name

ENT_IDP = Path(sys.executable).with_name("ent-idp")


def write_config(path: Path, settings: dict) -> Path:
    """The test settings as a deployment's TOML file (keys ent-idp knows, by section)."""
    sections: dict[str, list[str]] = {}
    for section, key in DEFAULTS:
        name = flask_name(section, key)
        if name in settings:
            sections.setdefault(section, []).append(f"{key} = {json.dumps(settings[name])}")
    lines = sections.pop("", [])
    for section, entries in sections.items():
        lines += [f"[{section}]", *entries]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def environment(settings: dict) -> dict[str, str | None]:
    """The settings as an admin's shell gives them: ``ENT_IDP_<NAME>`` variables."""
    env: dict[str, str | None] = {"ENT_IDP_CONFIG": None}
    for section, key in DEFAULTS:
        value = settings.get(flask_name(section, key))
        if value is not None:
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, list):
                value = ",".join(value)
            env[f"ENT_IDP_{flask_name(section, key)}"] = str(value)
    return env


def start_worker(config: Path, log: Path, *args: str) -> subprocess.Popen:
    """``ent-idp mail-worker --config CONFIG ARGS``, its output in ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(ENT_IDP), "mail-worker", "--config", str(config), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
