"""``pip install .`` outside the checkout still finds templates, catalogues, schema, config."""

from __future__ import annotations

import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
from ent_idp.shipped import shared_dir
d = shared_dir()
assert not str(d).startswith({root!r}), d
assert (d / "templates" / "flow" / "identification.html").is_file()
assert (d / "templates" / "mail" / "validation.txt").is_file()
assert (d / "templates" / "unlock" / "ask.html").is_file()
assert (d / "ldap_schema" / "entidp.schema").is_file()
assert (d / "ldap_schema" / "decoy.ldif").is_file()
assert (d / "config" / "ent-idp.example.toml").is_file()
assert (d / "config" / "cgu.example.en.txt").is_file()

# The compiled English catalogue travels inside the package, and translates.
from babel.support import Translations
from ent_idp.languages import TRANSLATIONS
assert not str(TRANSLATIONS).startswith({root!r}), TRANSLATIONS
english = Translations.load(str(TRANSLATIONS), ["en"])
assert english.gettext("Continuer") == "Continue", english
"""


@pytest.mark.timeout(600)
def test_an_installed_copy_carries_its_files(tmp_path):
    target = tmp_path / "venv"
    venv.create(target, with_pip=True)
    python = target / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(ROOT)],
        check=True,
        cwd=tmp_path,
        timeout=540,
    )
    probe = PROBE.format(root=str(ROOT))
    result = subprocess.run(
        [str(python), "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    help_text = subprocess.run(
        [str(target / "bin" / "ent-idp"), "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    assert "serve" in help_text and "mail-worker" in help_text
