"""« Identifiant oublié »'s form: who the user says they are (names, backup address, and the
school where the directory names one)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, StringField
from wtforms.validators import DataRequired, Length

from ..domain.forgotten_login import Identity
from .forms import _strip, backup_mail_field, deliverable_address
from .i18n import lazy_gettext as _l

# The directory's name attributes hold far more; no one's name is longer than this.
MAX_NAME_LENGTH = 128


def _name_field(label: str, missing: str, too_long: str) -> StringField:
    return StringField(
        label,
        filters=[_strip],
        validators=[
            DataRequired(missing),
            Length(max=MAX_NAME_LENGTH, message=too_long),
        ],
    )


class ForgottenLoginForm(FlaskForm):
    given_name = _name_field(
        _l("Prénom"), _l("Saisissez votre prénom."), _l("Ce prénom est trop long.")
    )
    surname = _name_field(_l("Nom"), _l("Saisissez votre nom."), _l("Ce nom est trop long."))
    backup_mail = backup_mail_field()
    school = _name_field(
        _l("Établissement"),
        _l("Saisissez votre établissement."),
        _l("Ce nom d'établissement est trop long."),
    )

    def __init__(self, *args, asks_school: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not asks_school:  # the directory names no school: not asked
            del self.school
        self.address = ""

    def validate_backup_mail(self, field: EmailField) -> None:
        """The address as ent-idp stores it (what the directory compares with)."""
        self.address = deliverable_address(field.data or "")

    def identity(self) -> Identity:
        school = self.school.data if "school" in self else ""
        return Identity(self.given_name.data, self.surname.data, self.address, school)
