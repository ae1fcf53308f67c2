"""The password rules, checked live for the page: the server's own function, as JSON."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from ...domain.password_policy import broken_rules, current_policy

bp = Blueprint("policy", __name__)


@bp.post("/mot-de-passe/regles")
def check():
    """``{"password": …, "personal": […]}`` → ``{"broken": [rule, …]}`` (CSRF header)."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):  # JSON, but not an object: true, 3, [...]
        return jsonify(error="expected a JSON object"), 400
    password = payload.get("password")
    personal = payload.get("personal") or []
    if not isinstance(password, str) or not isinstance(personal, list):
        return jsonify(error="password must be a string"), 400
    policy = current_policy()
    words = tuple(str(word)[:100] for word in personal[:5])
    rules = broken_rules(password[: policy.max_length + 1], policy, words)
    return jsonify(broken=[rule.value for rule in rules])
