"""A region brands the pages from its configuration: colours and logo, no code change."""

from __future__ import annotations

import pytest

from ent_idp import create_app
from ent_idp.settings import ConfigError


def test_colours_and_logo_come_from_the_configuration(plain_settings, tmp_path):
    logo = tmp_path / "logo.svg"
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    app = create_app(
        {
            **plain_settings,
            "BRAND_COLOUR": "#123456",
            "BRAND_LOGO_FILE": str(logo),
            "BRAND_LOGO_ALT": "ENT de la région",
        }
    )
    try:
        client = app.test_client()
        page = client.get("/activation").get_data(as_text=True)
        assert 'href="/marque/couleurs.css"' in page
        assert '<img class="logo" src="/marque/logo" alt="ENT de la région">' in page
        css = client.get("/marque/couleurs.css")
        assert css.mimetype == "text/css" and "--brand: #123456;" in css.get_data(as_text=True)
        with client.get("/marque/logo") as response:
            assert response.mimetype == "image/svg+xml"
    finally:
        app.extensions["ent_idp"].close()


def test_a_colour_that_is_not_one_is_refused(plain_settings):
    """A colour is pasted into CSS: anything but #rrggbb could inject style."""
    with pytest.raises(ConfigError, match=r"\[brand\] colour must look like #0b5394"):
        create_app({**plain_settings, "BRAND_COLOUR": "red; } body { display: none"})
