"""Running the real ``ent-idp mail-worker`` and ``ent-idp check`` as a deployment would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ent_idp.config import DEFAULTS, flask_name

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


def start_worker(config: Path, log: Path, *args: str) -> subprocess.Popen:
    """``ent-idp mail-worker --config CONFIG ARGS``, its output in ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(ENT_IDP), "mail-worker", "--config", str(config), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
