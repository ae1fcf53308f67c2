"""The admin commands' work (``ent-idp reset``, ``import``, ``status``, ``check``), a sibling
of the other domain modules, using the admin's directory (``AdminDirectory``) and the store.

- ``accounts``: provisional passwords and resets; ``imports``: a school's export;
- ``handouts`` and ``letters``: the CSV and the PDF of passwords handed to schools;
- ``status``: one account as the directory holds it; ``check``: a deployment's readiness.
"""
