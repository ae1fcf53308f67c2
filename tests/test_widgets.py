"""ent_idp.web.widgets writes exactly what WTForms' own html_params writes."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from ent_idp.web import widgets

KEYS = st.text(alphabet=string.ascii_letters + "_-", min_size=1, max_size=12)
VALUES = st.one_of(
    st.booleans(),
    st.integers(),
    st.text(max_size=20),
    st.text(max_size=20).map(Markup),  # already markup: WTForms escapes only its quotes
    st.sampled_from(['"', "<script>", "a&b", "'", "&quot;", 'x"y']),
)


@settings(deadline=None)  # a loaded shared machine: no time limit per example
@given(st.dictionaries(KEYS, VALUES, max_size=6))
def test_the_attributes_are_those_of_wtforms(attributes):
    ours = widgets.html_params(**attributes)
    theirs = widgets.WTFORMS_HTML_PARAMS(**attributes)
    assert isinstance(ours, Markup)
    assert ours == theirs


def test_a_field_renders_the_same_with_either(app):
    """The installed function is the one the app's inputs and labels use."""
    import wtforms.widgets
    from wtforms.widgets import core

    from ent_idp.web.forms import IdentificationForm

    with app.test_request_context("/activation"):
        form = IdentificationForm()
        assert core.html_params is widgets.html_params
        ours = (form.login(class_="input", required=True), form.login.label(class_="label"))
        theirs_function = widgets.WTFORMS_HTML_PARAMS
        core.html_params = wtforms.widgets.html_params = theirs_function
        core.Input.html_params = staticmethod(theirs_function)
        try:
            theirs = (form.login(class_="input", required=True), form.login.label(class_="label"))
        finally:
            widgets.install()
    assert ours == theirs
