"""The app and the floor in one process: CPU per step, and per page rendered.

    .venv/bin/python -m bench.inprocess [--activations 120] [--renders 200]

``make bench`` measures the product under load, where the machine's speed drifts by up to
2x within the hour: a change of a few percent does not show there. This runs whole
activations through the app's WSGI stack (Flask's test client; real slapd, Redis and SMTP
sink from ``bench.stack``) alternating with the floor's (``bench.floor``), so both meet the
same machine, and prints the thread CPU of each step (median over the activations), then
the render time of each page of an activation (the best of 9 rounds of ``--renders``).
gunicorn is not in it: add what ``make bench`` shows for it (≈ 0.7 ms a request) to both.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
from collections import defaultdict

import flask.templating

from .stack import NEW_PASSWORD, PROVISIONAL, Stack, log

CSRF = re.compile(r'name="(?:[\w-]+-)?csrf_token" type="hidden" value="([^"]+)"')
FLOW = "/activation"
STEP_PATHS = ("cgu", "adresses", "mot-de-passe", "compte-active")


# The floor's name of each page (``bench.floor.STEPS``), for its sizes.
PAGES = {FLOW: "identification GET", **{f"{FLOW}/{p}": f"{p} GET" for p in STEP_PATHS}}


def activation(app, base_url: str, n: int, login: str, sizes: dict | None = None) -> None:
    client = app.test_client()
    kw = {
        "headers": {"X-Forwarded-For": f"10.9.{n >> 8 & 255}.{n & 255}", "Accept": "text/html"},
        "environ_base": {"REMOTE_ADDR": "127.0.0.1"},
        "base_url": base_url,
    }

    def page(path: str) -> str:
        response = client.get(path, **kw)
        assert response.status_code == 200, (path, response.status_code)
        body = response.get_data(as_text=True)
        if sizes is not None:
            sizes[PAGES[path]] = len(body.encode())
        found = CSRF.search(body)
        return found.group(1) if found else ""

    def post(path: str, form: dict, then: str) -> None:
        response = client.post(path, data={"csrf_token": page(path), **form}, **kw)
        assert response.status_code == 302 and response.location.endswith(then), path

    backup = f"{login}@perso.example.net"
    post(FLOW, {"login": login, "password": PROVISIONAL}, "/cgu")
    post(FLOW + "/cgu", {"accept": "y"}, "/adresses")
    addresses = {"backup_mail": backup, "confirm": backup, "forward": "y"}
    post(FLOW + "/adresses", addresses, "/mot-de-passe")
    password = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    post(FLOW + "/mot-de-passe", password, "/compte-active")
    page(FLOW + "/compte-active")


def timed(app, steps: dict) -> None:
    """Each request's thread CPU, by method and path, in ``steps``."""
    inner = app.wsgi_app

    def wsgi(environ, start_response):
        began = time.thread_time()
        try:
            return inner(environ, start_response)
        finally:
            step = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}"
            steps[step].append(time.thread_time() - began)

    app.wsgi_app = wsgi


def renders(app, base_url: str, login: str, times: int, sizes: dict) -> list[tuple[str, float]]:
    """Each template an activation renders, and its best render time in ms (and ``sizes``:
    the bytes of each page)."""
    captured = []
    render = flask.templating._render

    def capture(app_, template, context):
        captured.append((template, dict(context), flask.request.environ.copy()))
        return render(app_, template, context)

    flask.templating._render = capture
    try:
        activation(app, base_url, 0, login, sizes)
    finally:
        flask.templating._render = render
    found = []
    for template, context, environ in captured:
        with app.request_context(environ):
            if environ["REQUEST_METHOD"] == "GET":
                app.preprocess_request()
            best = float("inf")
            for _ in range(9):
                began = time.thread_time()
                for _ in range(times):
                    render(app, template, dict(context))
                best = min(best, (time.thread_time() - began) / times)
        found.append((template.name, best * 1000))
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.inprocess")
    p.add_argument("--activations", type=int, default=120)
    p.add_argument("--renders", type=int, default=200)
    a = p.parse_args(argv)
    with Stack() as stack:
        accounts = stack.create_accounts(a.activations + 21)
        os.environ["FLOOR_REDIS_URL"] = stack.redis.url
        from ent_idp.web import create_app, i18n

        from .floor import create_app as floor_app

        apps = {"app": create_app(config_file=str(stack.write_config()))}
        i18n.precompile(apps["app"])  # as `ent-idp serve` does
        sizes: dict[str, int] = {}  # the floor's pages as big as the app's
        found = renders(apps["app"], stack.app_url, accounts[-1].login, a.renders, sizes)
        os.environ["FLOOR_PAGE_BYTES"] = json.dumps(sizes)
        apps["floor"] = floor_app()
        steps = {name: defaultdict(list) for name in apps}
        for name, app in apps.items():
            timed(app, steps[name])
        log(f"{a.activations} activations each, app and floor alternating")
        for n in range(a.activations + 20):
            for name, app in apps.items():
                activation(app, stack.app_url, n, accounts[n].login if name == "app" else "x")
            if n == 19:  # warmed up
                for recorded in steps.values():
                    recorded.clear()
    print(f"{'step (thread CPU, median, ms)':36s} {'app':>7s} {'floor':>7s}")
    totals = dict.fromkeys(apps, 0.0)
    for step in steps["app"]:
        row = {name: statistics.median(steps[name][step]) * 1000 for name in apps}
        for name in apps:
            totals[name] += row[name]
        print(f"{step:36s} {row['app']:7.2f} {row['floor']:7.2f}")
    ratio = totals["app"] / totals["floor"]
    print(f"{'activation':36s} {totals['app']:7.2f} {totals['floor']:7.2f}  ratio {ratio:.2f}")
    print("\npage rendered (best, ms)")
    for name, ms in found:
        print(f"{name:36s} {ms:7.3f}")
    print(f"{'all':36s} {sum(ms for _, ms in found):7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
