"""WTForms' ``html_params`` without ``Markup.format``: the same attributes, several times faster.

Every input and label of a page goes through ``wtforms.widgets.html_params``, which formats
each attribute with ``Markup('{k}="{v}"').format(...)`` (Python's ``string.Formatter`` and an
escaping formatter per attribute): about a tenth of a page's rendering. This one writes the
same text (keys sorted and cleaned by WTForms' own ``clean_key``, ``True`` bare, ``False``
left out, values escaped, ``"`` as ``&quot;``); ``tests/test_widgets.py`` compares the two
on generated attributes, so a WTForms upgrade that changes its output fails there.

``install()`` puts it where WTForms looks the function up (its widgets module, the classes
that hold it as a static method, the package the labels use). The factory calls it.
"""

from __future__ import annotations

import functools

import wtforms.widgets
import wtforms.widgets.core as core
from markupsafe import Markup, escape

WTFORMS_HTML_PARAMS = core.html_params  # WTForms' own, the reference of the tests
QUOTE = '"'


def html_params(**kwargs) -> Markup:
    params = []
    for key, value in sorted(kwargs.items()):
        key = _attribute(key)
        if value is True:
            params.append(key)
        elif value is not False:
            # escape() leaves a Markup value as it is, quotes included: those become &quot;
            params.append(f'{key}="{str(escape(value)).replace(QUOTE, "&quot;")}"')
    return Markup(" ".join(params))


# Attribute names come from code and templates (a few dozen): each cleaned and escaped once.
@functools.lru_cache(maxsize=256)
def _attribute(key: str) -> str:
    return str(escape(core.clean_key(key)))


def install() -> None:
    core.html_params = html_params
    wtforms.widgets.html_params = html_params
    for holder in (core.Input, core.Button):
        holder.html_params = staticmethod(html_params)
