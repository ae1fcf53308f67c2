"""Development stack for ent-idp: real services (slapd, ...) run as child processes.

Not installed with the product; used by the tests and the demo.  Standard library +
ldap3 only.
"""
