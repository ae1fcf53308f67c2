"""Django settings of the devstack CAS server, read from DEVSTACK_CAS_* variables.

Required (set by devstack.cas_server.CasServer):
  DEVSTACK_CAS_WORKDIR        directory for the SQLite database
  DEVSTACK_CAS_SECRET_KEY
  DEVSTACK_CAS_LDAP_URL       e.g. ldap://127.0.0.1:3389
  DEVSTACK_CAS_LDAP_BASE_DN   e.g. ou=people,dc=ent,dc=test
  DEVSTACK_CAS_LDAP_BIND_DN   a reader account (the ent-idp service account)
  DEVSTACK_CAS_LDAP_BIND_PASSWORD
  DEVSTACK_CAS_ENT_IDP_URL    ent-idp's public URL, ending with "/"
Optional:
  DEVSTACK_CAS_DEBUG          "1" for Django's debug pages
  DEVSTACK_CAS_LOGIN_ATTRIBUTE        the attribute users log in with (default uid; ESCO:
                                      ENTPersonLogin), also the user name CAS releases
  DEVSTACK_CAS_FEDERATION_NAME        shown on the login page for federated users (ÉduConnect)
  DEVSTACK_CAS_FEDERATION_PASSWORD    the demo's stand-in for the federation: this password
  DEVSTACK_CAS_FEDERATED_FILTER       logs in the entries this LDAP filter matches (auth.py)
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def _env(name: str) -> str:
    value = os.environ.get(f"DEVSTACK_CAS_{name}")
    if not value:
        raise ImproperlyConfigured(
            f"DEVSTACK_CAS_{name} is not set; start this CAS server with "
            f"devstack.cas_server.CasServer (python -m devstack.cas_server --help)"
        )
    return value


HERE = Path(__file__).resolve().parent
WORKDIR = Path(_env("WORKDIR"))

SECRET_KEY = _env("SECRET_KEY")
DEBUG = os.environ.get("DEVSTACK_CAS_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "cas_server",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The login page in the browser's language, French or English, like ent-idp's pages.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "devstack.cas.urls"
WSGI_APPLICATION = "devstack.cas.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Our overrides of cas_server/bs4/{base,login}.html come first.
        "DIRS": [HERE / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": WORKDIR / "cas.sqlite3",
        # Two gunicorn workers share the file: wait for a lock rather than fail.
        "OPTIONS": {"timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français"), ("en", "English")]
USE_I18N = True
TIME_ZONE = "Europe/Paris"
USE_TZ = True

STATIC_URL = "/cas/static/"

# Cookies are not port-scoped: ent-idp on 127.0.0.1:5000 and this server on
# 127.0.0.1:8000 share a cookie jar, so our cookies get names and a path of their own.
SESSION_COOKIE_NAME = "cas_sessionid"
SESSION_COOKIE_PATH = "/cas/"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_NAME = "cas_csrftoken"
CSRF_COOKIE_PATH = "/cas/"
LANGUAGE_COOKIE_NAME = "cas_language"
LANGUAGE_COOKIE_PATH = "/cas/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "cas_server": {"handlers": ["console"], "level": "INFO"},
        "django": {"handlers": ["console"], "level": "WARNING"},
    },
}

# ---------------------------------------------------------------- django-cas-server
# LdapAuthUser, binding with the UTF-8 bytes of the typed password (no SASLprep), as ent-idp
# writes it: see auth.py.
CAS_AUTH_CLASS = "devstack.cas.auth.Utf8LdapAuthUser"
# The demo's federation (ÉduConnect) stand-in: see auth.DemoFederationAuthUser.
DEMO_FEDERATION_NAME = os.environ.get("DEVSTACK_CAS_FEDERATION_NAME", "")
DEMO_FEDERATION_PASSWORD = os.environ.get("DEVSTACK_CAS_FEDERATION_PASSWORD", "")
DEMO_FEDERATED_FILTER = os.environ.get("DEVSTACK_CAS_FEDERATED_FILTER", "")
if DEMO_FEDERATION_PASSWORD and DEMO_FEDERATED_FILTER:
    CAS_AUTH_CLASS = "devstack.cas.auth.DemoFederationAuthUser"
CAS_LDAP_SERVER = _env("LDAP_URL")
CAS_LDAP_USER = _env("LDAP_BIND_DN")
CAS_LDAP_PASSWORD = _env("LDAP_BIND_PASSWORD")
CAS_LDAP_BASE_DN = _env("LDAP_BASE_DN")
# "(uid=%s)" still works but emits a DeprecationWarning in 3.1.0; this is the new form.
LOGIN_ATTRIBUTE = os.environ.get("DEVSTACK_CAS_LOGIN_ATTRIBUTE") or "uid"
CAS_LDAP_USER_QUERY = f"({LOGIN_ATTRIBUTE}=%(username)s)"
CAS_LDAP_USERNAME_ATTR = LOGIN_ATTRIBUTE
CAS_LDAP_PASSWORD_CHECK = "bind"
# Attributes come from the reader account's search (CAS_LDAP_ATTRS_VIEW = 0); the
# ServicePattern's ReplaceAttributName rows choose which of them a service gets.
CAS_LDAP_ATTRS_VIEW = 0

# No outbound network calls: no PyPI version check, no CDN assets (our base.html
# override loads nothing from outside), no "powered by" link.
CAS_NEW_VERSION_HTML_WARNING = False
CAS_NEW_VERSION_EMAIL_WARNING = False
CAS_SHOW_POWERED = False
CAS_LOGO_URL = None
CAS_FAVICON_URL = None
CAS_INFO_MESSAGES = {}
CAS_INFO_MESSAGES_ORDER = []

# Logout page rather than a redirect to the login page.
CAS_REDIRECT_TO_LOGIN_AFTER_LOGOUT = False

# Used by templates/cas_server/bs4/login.html for the two ent-idp links.
ENT_IDP_URL = _env("ENT_IDP_URL")
if not ENT_IDP_URL.endswith("/"):
    ENT_IDP_URL += "/"
