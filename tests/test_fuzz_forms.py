"""A net under every form: generated input posted into every field, against the real server.

The app runs as it does in production (``ent-idp serve``: gunicorn, its access log, the real
slapd, Redis, SMTP sink and CAS), and so does the mail worker. Hypothesis fills every field
of every form of every page a user can reach (identification, each step of a flow, « Mot de
passe oublié », « Débloquer mon compte », the three forms of « Mon compte » behind a real
CAS login, the links' pages, the live password check, the language switch and the CAS
interrupt) with random Unicode of every category, control characters, NUL, bytes that are
not UTF-8, 10 kB strings and look-alikes of the real logins and addresses, always with a
valid CSRF token, and from changing client addresses behind a trusted proxy so the per-address
throttle does not hide the rest. What must hold for every example:

* never a 5xx, never a traceback in the page or in the server's log;
* a submission the app refused (any answer but a redirect) changed nothing in the directory;
* the mail worker is still running at the end.

Bounded in examples (``FUZZ_EXAMPLES``, default 250) and in time so ``make test`` stays fast;
an input that once broke something is kept below as an ``@example``.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, quote, quote_from_bytes, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from devstack.ports import terminate, wait_for_port

from .cas_client import cas_login
from .conftest import CGU_VERSION, INTERRUPT_PASSWORD
from .mail_support import ENT_IDP, start_worker, write_config

pytestmark = [pytest.mark.security, pytest.mark.timeout(600)]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "250"))
ACTIVE_PASSWORD = "Deja-Actif-2026!"

# What a bind or a session writes whatever the answer: ppolicy's failure times, the
# operational stamps that follow them. Anything else must stay as it was.
NOISE = {
    "pwdfailuretime",
    "modifytimestamp",
    "modifiersname",
    "entrycsn",
    "pwdlastsuccess",
    "authtimestamp",
}

# -- what is typed -----------------------------------------------------------------------

LOOK_ALIKES = [
    "ａlice.martin",  # fullwidth
    "ALICE.MARTIN",
    "alice.martin\u00a0",
    " alice.martin ",
    "alice\u200bmartin",
    "alice.martin@ent.test",
    "élève.lucas@example.net",
    "emma.perso@exämple.net",
    "emma.perso@example.net\r\nBcc: x@evil.example",
    "*)(uid=*))(|(uid=*",
    "\x00",
    "%00",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "{{7*7}}",
    "=cmd|' /C calc'!A0",
    "ＡＢＣ①②③ﬁ²µ¨",
    "\ud7ff\ue000\U0010fffd",
]

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
long_text = st.integers(min_value=1000, max_value=10_000).map(lambda n: "é" * n)
raw_bytes = st.binary(max_size=40)  # sent as they are, most of them not UTF-8
value = st.one_of(text, text, raw_bytes, long_text, st.sampled_from(LOOK_ALIKES))
client_address = st.one_of(
    st.ip_addresses().map(str),
    st.sampled_from(["", "unknown", "1.2.3.4, 5.6.7.8", "::ffff:10.0.0.1", "[::1]:80", "x" * 300]),
)

# -- the real server ----------------------------------------------------------------------


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def server(settings, cas_server, live_url, tmp_path) -> Server:
    url = live_url  # the URL the test CAS lets « Mon compte » log in from
    port = int(urlsplit(url).port)
    config = write_config(
        tmp_path / "ent-idp.toml",
        {
            **settings,
            "PUBLIC_URL": url,
            "CAS_URL": cas_server.url,
            "CAS_ALLOWED_SERVICES": [*settings["CAS_ALLOWED_SERVICES"], url],
            "ALLOWED_HOSTS": ["localhost", "127.0.0.1"],
            # The fuzzer speaks for many clients through one trusted proxy.
            "TRUSTED_PROXIES": ["127.0.0.1"],
        },
    )
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(ENT_IDP), "serve", "--config", str(config), "--bind", f"127.0.0.1:{port}"]
            + ["--workers", "1", "--threads", "4"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    worker = start_worker(config, tmp_path / "worker.log")
    try:
        wait_for_port("127.0.0.1", port, time.monotonic() + 30, "ent-idp serve", process)
        yield Server(url, process, log)
        assert worker.poll() is None, "the mail worker stopped:\n" + (
            tmp_path / "worker.log"
        ).read_text(errors="replace")
    finally:
        terminate(worker)
        terminate(process)


# -- pages and their forms -----------------------------------------------------------------

_FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S)
_ATTR = re.compile(r'(\w[\w-]*)="([^"]*)"')
_FIELD = re.compile(r"<(input|textarea|select)\b([^>]*)>", re.S)


@dataclass
class Form:
    action: str
    fields: list[str]  # the names a user can type into or tick
    hidden: dict[str, str]  # the CSRF token(s), as the page gives them


def forms_of(html: str, page_url: str) -> list[Form]:
    found = []
    for attributes, body in _FORM.findall(html):
        attrs = dict(_ATTR.findall(attributes))
        if attrs.get("method", "get").lower() != "post":
            continue
        fields, hidden = [], {}
        for _tag, field_attrs in _FIELD.findall(body):
            f = dict(_ATTR.findall(field_attrs))
            if "name" not in f:
                continue
            if f.get("type") == "hidden":
                hidden[f["name"]] = unescape(f.get("value", ""))
            elif f.get("type") not in ("submit", "button"):
                fields.append(f["name"])
        action = unescape(attrs.get("action", "")) or urlsplit(page_url).path
        found.append(Form(action.split("#")[0], fields, hidden))
    return found


@dataclass
class Target:
    """A page whose forms are filled, and how a user comes to stand on it."""

    name: str
    path: str
    reach: Callable[[Context, Target], None] | None = None
    session: requests.Session = field(default_factory=requests.Session)
    dn: str | None = None  # the account whose entry a refused submission must not change


@dataclass
class Context:
    server: Server
    accounts: object
    cas_server: object
    targets: list[Target] = field(default_factory=list)

    def get(self, target: Target, path: str | None = None) -> requests.Response:
        return target.session.get(self.server.url + (path or target.path).lstrip("/"), timeout=30)

    def post(self, target: Target, action: str, body: bytes, address: str):
        return target.session.post(
            self.server.url + action.lstrip("/"),
            data=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Forwarded-For": address,
            },
            allow_redirects=False,
            timeout=30,
        )


def _flow(kind: str, step: str) -> Callable[[Context, Target], None]:
    """A pending account identified and brought to ``step`` (cgu, adresses, mot-de-passe)."""

    def reach(ctx: Context, target: Target) -> None:
        account = ctx.accounts.create("pending")
        target.dn = account["dn"]
        target.session = requests.Session()
        _submit(ctx, target, f"/{kind}", {"login": account["login"], "password": "Provisoire-2026"})
        if step in ("adresses", "mot-de-passe"):
            _submit(ctx, target, f"/{kind}/cgu", {"accept": "y"})
        if step == "mot-de-passe":
            address = "emma.perso@example.net"
            _submit(ctx, target, f"/{kind}/adresses", {"backup_mail": address, "confirm": address})
        target.path = f"/{kind}/{step}"

    return reach


def _mon_compte(ctx: Context, target: Target) -> None:
    account = ctx.accounts.create(
        "active",
        password=ACTIVE_PASSWORD,
        backup_mail="emma.perso@example.net",
        backup_verified=True,
        cgu_version=CGU_VERSION,
    )
    target.dn = account["dn"]
    target.session = requests.Session()
    first = ctx.get(target, "/compte")
    service = parse_qs(urlsplit(first.url).query).get("service", [None])[0]
    assert service, first.url
    ticket = cas_login(ctx.cas_server.url, service, account["login"], ACTIVE_PASSWORD)
    assert ctx.get(target, f"/compte?ticket={ticket}").status_code == 200


def _submit(ctx: Context, target: Target, path: str, data: dict) -> None:
    page = ctx.get(target, path)
    [form] = [f for f in forms_of(page.text, page.url) if set(data) <= set(f.fields)]
    target.session.post(page.url, data={**form.hidden, **data}, timeout=30)


def targets() -> list[Target]:
    """The pages with fields to type into (the links' pages have only a button: their
    tokens are fuzzed by ``test_no_url_nor_json_breaks_the_app``)."""
    return [
        Target("activation", "/activation"),
        Target("reinitialisation", "/reinitialisation?service=http://ent.test/x"),
        Target("conditions", "/conditions"),
        Target("mot de passe oublié", "/mot-de-passe-oublie"),
        Target("débloquer", "/deblocage"),
        Target("identifiant oublié", "/identifiant-oublie"),
        Target("CGU", "", _flow("activation", "cgu")),
        Target("adresses", "", _flow("activation", "adresses")),
        Target("mot de passe", "", _flow("reinitialisation", "mot-de-passe")),
        Target("mon compte", "/compte", _mon_compte),
    ]


def _encode(pairs: list[tuple[str, str | bytes]]) -> bytes:
    return "&".join(
        quote(name, safe="") + "=" + (quote_from_bytes(v) if isinstance(v, bytes) else quote(v))
        for name, v in pairs
    ).encode("ascii")


# -- the properties -------------------------------------------------------------------------


def _entry(accounts, dn: str | None) -> dict:
    if dn is None:
        return {}
    try:
        return {k: v for k, v in accounts.read(dn).items() if k not in NOISE}
    except IndexError:  # gone
        return {}


def _check(ctx: Context, response: requests.Response, what: str) -> None:
    assert response.status_code < 500, (what, response.status_code, response.text[:500])
    assert "Traceback" not in response.text, what
    log = ctx.server.output()
    assert "Traceback" not in log, log[-3000:]


@pytest.fixture
def context(server, accounts, cas_server) -> Context:
    ctx = Context(server, accounts, cas_server, targets())
    yield ctx
    _check(ctx, requests.get(server.url, timeout=10), "the home page at the end")


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_input_breaks_a_form_or_changes_what_it_refused(context: Context, data) -> None:
    """Hostile input comes from people with time on their hands: whatever they type (look-
    alikes, NUL, broken UTF-8, 10 kB), the app answers a page, never a 5xx or a traceback,
    and a submission it refuses leaves the directory as it was."""
    ctx = context
    target = data.draw(st.sampled_from(ctx.targets), label="page")
    page = _stand_on(ctx, target)
    forms = forms_of(page.text, page.url)
    if not forms:
        return
    form = data.draw(st.sampled_from(forms), label="form")
    pairs: list[tuple[str, str | bytes]] = list(form.hidden.items())
    for name in form.fields:
        if data.draw(st.booleans(), label=f"fill {name}") or not form.fields:
            pairs.append((name, data.draw(value, label=name)))
    address = data.draw(client_address, label="X-Forwarded-For")
    before = _entry(ctx.accounts, target.dn)
    response = ctx.post(target, form.action, _encode(pairs), address)
    event(f"{target.name}: {response.status_code}")
    _check(ctx, response, f"{target.name} {form.action} {pairs!r}")
    if response.status_code not in (301, 302, 303):
        assert _entry(ctx.accounts, target.dn) == before, (target.name, pairs)


def test_every_fuzzed_page_is_reached_with_its_forms(context: Context) -> None:
    """The net catches nothing if the pages it fills are not the ones users meet: each
    target is reached (its flow started, its CAS login made) and shows a form to post."""
    for target in context.targets:
        page = _stand_on(context, target)
        assert forms_of(page.text, page.url), (target.name, page.url)


def _stand_on(ctx: Context, target: Target) -> requests.Response:
    """The target's page, its flow or login made again if the last example ended it."""
    if target.reach is not None and target.dn is None:
        target.reach(ctx, target)
    page = ctx.get(target)
    if target.reach is not None and (
        page.status_code != 200 or urlsplit(page.url).path != urlsplit(target.path).path
    ):
        target.reach(ctx, target)
        page = ctx.get(target)
    _check(ctx, page, f"GET {target.path}")
    return page


@settings(
    max_examples=max(EXAMPLES // 3, 10),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.one_of(text, st.sampled_from(LOOK_ALIKES)),
    query=st.one_of(text, raw_bytes, st.sampled_from(LOOK_ALIKES)),
    payload=st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | text,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
        max_leaves=12,
    ),
    address=client_address,
)
def test_no_url_nor_json_breaks_the_app(server, path, query, payload, address) -> None:
    """The links' tokens, ``service``, the switch's ``next``, the interrupt's ``username``
    and the live password check's JSON come from the outside too: a page or a clean
    refusal, never a 5xx."""
    q = quote_from_bytes(query) if isinstance(query, bytes) else quote(query)
    p = quote(path, safe="")
    headers = {"X-Forwarded-For": address}
    with requests.Session() as s:
        form = s.get(f"{server.url}activation", timeout=30).text
        [csrf] = forms_of(form, server.url + "activation")[0].hidden.values()
        answers = [
            s.get(f"{server.url}validation/{p}", headers=headers, timeout=30),
            s.get(f"{server.url}mot-de-passe-oublie/lien/{p}", headers=headers, timeout=30),
            s.get(f"{server.url}deblocage/lien/{p}", headers=headers, timeout=30),
            *(
                s.post(
                    f"{server.url}{link}", data={"csrf_token": csrf}, headers=headers, timeout=30
                )
                for link in (
                    f"validation/{p}",
                    f"validation/{p}/nouveau-lien",
                    f"mot-de-passe-oublie/lien/{p}",
                    f"deblocage/lien/{p}",
                )
            ),
            s.get(f"{server.url}activation?service={q}", headers=headers, timeout=30),
            s.get(
                f"{server.url}langue/en?next={q}",
                headers=headers,
                allow_redirects=False,
                timeout=30,
            ),
            s.get(
                f"{server.url}api/cas/interrupt?username={q}&service={q}",
                auth=("cas", INTERRUPT_PASSWORD),
                headers=headers,
                timeout=30,
            ),
            s.post(
                f"{server.url}mot-de-passe/regles",
                json=payload,
                headers={**headers, "X-CSRFToken": csrf},
                timeout=30,
            ),
        ]
    for answer in answers:
        assert answer.status_code < 500, (answer.url, answer.status_code, answer.text[:300])
    assert "Traceback" not in server.output()


# -- what the net caught, kept as plain tests ----------------------------------------------


@pytest.mark.parametrize("payload", ["true", "[]", "3", '"password"', "null", "[{}]"])
def test_the_live_password_check_refuses_json_that_is_not_an_object(client, payload):
    """Found by the net: a JSON body that was not an object (``true``) made the live check
    of the password rules answer 500. A clean 400 says what it expects."""
    page = client.get("/activation").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(
        "/mot-de-passe/regles",
        data=payload,
        headers={"Content-Type": "application/json", "X-CSRFToken": token},
    )
    assert response.status_code == 400
    assert response.get_json() == {"error": "expected a JSON object"}
