"""The Prometheus alert rules (deploy/prometheus/ent-idp-alerts.yml), checked by promtool.

``promtool check rules`` parses every expression; ``promtool test rules`` feeds the rules the
series of ``tests/prometheus/ent-idp-alerts.test.yml`` and checks that each alert fires when
it should (readiness lost, mail waiting, 5xx, identification failures, throttling, LDAP and
Redis errors, slow answers) and that a normal day fires none. promtool comes from Debian's
prometheus package (devstack/install-system-deps.sh installs that one binary).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy" / "prometheus" / "ent-idp-alerts.yml"
CASES = ROOT / "tests" / "prometheus" / "ent-idp-alerts.test.yml"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool not installed: run devstack/install-system-deps.sh (make test does)")
    return found


def rules() -> list[dict]:
    return [
        rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
    ]


def test_promtool_accepts_the_rules():
    result = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_every_alert_fires_when_it_should_and_not_on_a_normal_day(tmp_path):
    descriptions = {
        (rule["alert"], rule["labels"]["severity"]): rule["annotations"]["description"]
        for rule in rules()
    }
    cases = yaml.safe_load(CASES.read_text(encoding="utf-8"))
    cases["rule_files"] = [str(RULES)]
    tested = set()
    for case in cases["tests"]:
        for check in case["alert_rule_test"]:
            for alert in check["exp_alerts"]:
                key = (check["alertname"], alert["exp_labels"]["severity"])
                alert["exp_annotations"]["description"] = descriptions[key]
                tested.add(key)
    assert tested == set(descriptions), "every alert has a case where it fires"
    generated = tmp_path / "cases.yml"
    generated.write_text(yaml.safe_dump(cases, allow_unicode=True), encoding="utf-8")
    result = subprocess.run(
        [promtool(), "test", "rules", str(generated)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_use_only_the_documented_metric_names():
    """The app implements exactly the names listed at the top of the rules file: each name an
    expression uses is documented there, and each documented one is used or tested."""
    header = RULES.read_text().split("groups:", 1)[0]
    documented = set(re.findall(r"^#\s+(ent_idp_\w+)", header, re.M))
    used = {
        name.removesuffix("_bucket")
        for rule in rules()
        for name in re.findall(r"ent_idp_\w+", str(rule["expr"]))
    }
    assert used <= documented, used - documented
    in_cases = set(re.findall(r"(ent_idp_\w+?)(?:_bucket)?\{", CASES.read_text()))
    # Exposed for dashboards and for looking into an alert, used by no rule.
    for_dashboards = {
        "ent_idp_mail_queue_depth",
        "ent_idp_mail_dead_depth",
        "ent_idp_cgu_acceptances_total",
        "ent_idp_backup_address_validations_total",
        "ent_idp_audit_events_total",
    }
    assert documented <= used | in_cases | for_dashboards
