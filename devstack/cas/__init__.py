"""A minimal Django project running django-cas-server for the demo and the tests.

Launched by :class:`devstack.cas_server.CasServer`, which sets the ``DEVSTACK_CAS_*``
environment variables that ``settings.py`` reads. Users authenticate by an LDAP bind
against the devstack slapd; the login page links to ent-idp's activation and reset flows.
"""
