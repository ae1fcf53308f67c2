"""Device cookies (OWASP, « Blocking brute force attacks »: device cookies).

A browser that succeeded for an entry (an identification with the right password, or a
« Débloquer mon compte » link opened from the verified backup address) gets a signed,
``HttpOnly`` cookie naming that entry by a keyed hash (never the login or the DN) with a
random id of its own. Its next attempts on that entry are counted in a bucket of their own
(``Attempt.admit_account(device=…)``), so someone who only knows the login cannot hold it
back by failing on purpose. The cookie proves nothing about the password: it only chooses
the counter, and the same rule applies in every bucket.

One cookie holds up to ``MAX_ENTRIES`` entries (a family computer, a school's), each valid
``[throttle] device_days`` from its last success. Nothing is stored server-side.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import time
from urllib.parse import urlsplit

from flask import Response, current_app, g, has_request_context, request
from itsdangerous import BadSignature, URLSafeSerializer

from .resources import resources

COOKIE = "ent_idp_device"
MAX_ENTRIES = 10


def _serializer() -> URLSafeSerializer:
    return _serializer_for(current_app.secret_key)


@functools.lru_cache(maxsize=4)
def _serializer_for(secret_key: str | bytes) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt="ent-idp-device")


def _lifetime() -> int:
    return resources().settings.throttle.device_days * 24 * 3600


def _tag(dn: str) -> str:
    key = current_app.secret_key.encode()
    return hmac.new(key, dn.lower().encode(), hashlib.sha256).hexdigest()[:32]


def _entries() -> list[list]:
    """``[tag, device id, last success]`` for each entry of this browser's cookie."""
    if "ent_idp_devices" in g:
        return g.ent_idp_devices
    try:
        loaded = _serializer().loads(request.cookies.get(COOKIE, ""))
    except BadSignature:
        loaded = []
    oldest = time.time() - _lifetime()
    entries = [
        item
        for item in (loaded if isinstance(loaded, list) else [])
        if isinstance(item, list)
        and len(item) == 3
        and all(isinstance(part, str) for part in item[:2])
        and isinstance(item[2], int | float)
        and item[2] >= oldest
    ]
    g.ent_idp_devices = entries
    return entries


def known(dn: str) -> str | None:
    """This browser's device id for the entry ``dn``, if it proved itself there."""
    if not has_request_context():
        return None
    tag = _tag(dn)
    return next((device for entry, device, _ in _entries() if entry == tag), None)


def remember(dn: str) -> None:
    """This browser proved itself for ``dn``: the response carries (or renews) its cookie."""
    if not has_request_context():
        return
    tag = _tag(dn)
    device = known(dn) or secrets.token_urlsafe(16)
    others = [item for item in _entries() if item[0] != tag]
    g.ent_idp_devices = [*others, [tag, device, int(time.time())]][-MAX_ENTRIES:]
    g.ent_idp_devices_changed = True


def write_cookie(response: Response) -> Response:
    """After a request: the cookie goes out if this request changed it (``remember``)."""
    if g.get("ent_idp_devices_changed"):
        response.set_cookie(
            COOKIE,
            _serializer().dumps(g.ent_idp_devices),
            max_age=_lifetime(),
            secure=urlsplit(resources().settings.public_url).scheme == "https",
            httponly=True,
            samesite="Lax",
        )
    return response
