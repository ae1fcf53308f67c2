"""WSGI entry point: ``python -m gunicorn devstack.cas.wsgi`` (see devstack/cas_server.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devstack.cas.settings")
application = get_wsgi_application()
