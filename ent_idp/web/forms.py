"""The forms of the flows, with their validation and messages (Flask-WTF, CSRF on all)."""

from __future__ import annotations

from collections.abc import Callable

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext, ngettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from ..directory import Account
from ..domain.password_policy import Policy, Rule, broken_rules, current_policy
from ..errors import IdentificationFailed, PasswordRejected, Throttled
from .i18n import lazy_gettext as _l

MAX_LOGIN_LENGTH = 256


# Field messages; they name the problem and how to fix it (the lengths: rule_message).
RULE_MESSAGES = {
    Rule.TOO_WEAK: _l(
        "Le mot de passe est trop simple : allongez-le ou mélangez minuscules, majuscules, "
        "chiffres et caractères spéciaux."
    ),
    Rule.CONTAINS_PERSONAL: _l(
        "Le mot de passe ne doit contenir ni votre identifiant, ni votre prénom, ni votre nom."
    ),
    Rule.COMMON: _l(
        "Ce mot de passe est trop courant ou trop facile à deviner (mot du dictionnaire, "
        "suite de clavier, date…) : choisissez-en un moins prévisible."
    ),
    Rule.BLANK_EDGES: _l("Le mot de passe ne doit ni commencer ni finir par une espace."),
}

# The directory's own refusals (ppolicy), by ent_idp.directory.errors' reason code.
DIRECTORY_MESSAGES = {
    "history": _l(
        "Choisissez un mot de passe que vous n'avez pas encore utilisé pour ce compte "
        "(ni le mot de passe provisoire, ni un ancien mot de passe)."
    ),
    "too_short": _l("L'annuaire trouve ce mot de passe trop court : allongez-le."),
    "quality": _l(
        "L'annuaire refuse ce mot de passe car il est trop simple : choisissez-en un autre."
    ),
    "too_young": _l(
        "Le mot de passe de ce compte vient d'être changé : réessayez dans quelques minutes."
    ),
    "policy": _l("L'annuaire a refusé ce mot de passe : choisissez-en un autre."),
}


def rule_message(rule: Rule, policy: Policy) -> str:
    """The field message for a broken rule: it names the problem and how to fix it."""
    if rule is Rule.TOO_SHORT:
        return ngettext(
            "Le mot de passe doit contenir au moins %(num)d caractère.",
            "Le mot de passe doit contenir au moins %(num)d caractères.",
            policy.min_length,
        )
    if rule is Rule.TOO_LONG:
        return ngettext(
            "Le mot de passe ne peut pas dépasser %(num)d caractère.",
            "Le mot de passe ne peut pas dépasser %(num)d caractères.",
            policy.max_length,
        )
    return str(RULE_MESSAGES[rule])


class RecoveryForm(FlaskForm):
    login = StringField(
        _l("Identifiant"),
        validators=[
            DataRequired(_l("Saisissez votre identifiant.")),
            Length(max=MAX_LOGIN_LENGTH, message=_l("Cet identifiant est trop long.")),
        ],
    )


class IdentificationForm(RecoveryForm):
    password = PasswordField(
        _l("Mot de passe provisoire"),
        validators=[
            DataRequired(_l("Saisissez votre mot de passe provisoire.")),
            Length(max=1024, message=_l("Ce mot de passe est trop long.")),
        ],
    )

    @property
    def credentials(self) -> tuple[str, str]:
        """The login and the password, as typed."""
        return self.login.data, self.password.data


class CguForm(FlaskForm):
    accept = BooleanField(
        _l("J'ai lu et j'accepte les Conditions Générales d'Utilisation décrites ci-dessus."),
        validators=[
            DataRequired(_l("Cochez la case pour accepter les Conditions Générales d'Utilisation."))
        ],
    )


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def backup_mail_field() -> EmailField:
    """« Adresse électronique de secours », as every form that takes one asks for it."""
    return EmailField(
        _l("Adresse électronique de secours"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Saisissez votre adresse électronique de secours.")),
            Length(max=254, message=_l("Cette adresse est trop longue.")),
        ],
    )


class BackupMailForm(FlaskForm):
    """A backup address typed twice; not the ENT address, nor the one already in place.

    ent-idp accepts what the directory (an IA5 attribute), the queue and any SMTP server
    carry: an ASCII part before the @ (no quotes), and a domain that may be international,
    kept in its ASCII (IDNA) form. ``address`` is that form, once the form is valid.
    """

    backup_mail = backup_mail_field()
    confirm = EmailField(
        _l("Confirmation de l'adresse électronique de secours"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Saisissez une deuxième fois votre adresse électronique de secours.")),
            EqualTo("backup_mail", _l("Les deux adresses ne sont pas identiques.")),
        ],
    )

    def __init__(self, *args, ent_mail: str = "", in_place: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.ent_mail = ent_mail
        self.in_place = in_place
        self.address = ""

    def validate_backup_mail(self, field: EmailField) -> None:
        self._not_in_place(field.data or "")  # as typed: its own message, even if invalid
        address = deliverable_address(field.data or "")
        self._not_in_place(address)
        self.address = address

    def _not_in_place(self, address: str) -> None:
        if self.ent_mail and address.lower() == self.ent_mail.lower():
            raise ValidationError(
                gettext(
                    "Votre adresse de secours doit être une adresse personnelle, "
                    "différente de votre adresse ENT."
                )
            )
        if self.in_place and address.lower() == self.in_place.lower():
            raise ValidationError(gettext("C'est déjà votre adresse de secours."))


def deliverable_address(typed: str) -> str:
    """The address as ent-idp stores and mails it (domain in ASCII), or ValidationError."""
    try:
        found = validate_email(
            typed, check_deliverability=False, allow_smtputf8=True, allow_quoted_local=False
        )
    except EmailNotValidError:
        raise ValidationError(
            gettext(
                "Cette adresse n'est pas valide : vérifiez-la (exemple : prenom.nom@exemple.fr)."
            )
        ) from None
    if found.ascii_email is None:  # the part before the @ is not ASCII: it needs SMTPUTF8
        raise ValidationError(
            gettext(
                "Cette adresse contient des caractères accentués ou spéciaux avant le @, que la "
                "messagerie ne peut pas acheminer : utilisez une adresse sans accent."
            )
        )
    return found.ascii_email


class MailsForm(BackupMailForm):
    forward = BooleanField(
        _l("Rediriger mes messages internes ENT vers cette adresse de messagerie.")
    )
    later = SubmitField(_l("Plus tard"))  # only where the user profile makes it optional

    def later_pressed(self) -> bool:
        """« Plus tard » was pressed (the CSRF token is checked for every post anyway)."""
        return self.is_submitted() and bool(self.later.data)

    def prefill(self, backup_mail: str, forward: bool) -> None:
        """The choice made before (the back button), or the address the account has."""
        if backup_mail:
            self.backup_mail.data = self.confirm.data = backup_mail
            self.forward.data = forward


def current_password_field() -> PasswordField:
    """« Mot de passe actuel »: each « Mon compte » form asks for it (a session left open on a
    shared computer is not its user)."""
    return PasswordField(
        _l("Mot de passe actuel"),
        validators=[DataRequired(_l("Saisissez votre mot de passe actuel."))],
    )


class ConfirmedByPassword:
    """The answers of the current-password check, shown on the form's own field."""

    current: PasswordField

    def current_refused(self, exc: IdentificationFailed | Throttled) -> None:
        """A wrong current password, or one held back by the throttle (no bind was made)."""
        if isinstance(exc, Throttled):
            minutes = -(-exc.wait_seconds // 60)
            # TRANSLATORS: "min" stands for minute and minutes alike in French.
            message = ngettext(
                "Trop de tentatives : patientez %(num)d min avant de réessayer.",
                "Trop de tentatives : patientez %(num)d min avant de réessayer.",
                minutes,
            )
        else:
            message = gettext("Mot de passe actuel incorrect.")
        self.current.errors = [*self.current.errors, message]


class AccountMailForm(ConfirmedByPassword, BackupMailForm):
    """« Mon compte »: a new backup address typed twice, then the current password."""

    current = current_password_field()

    def too_many_mails(self) -> None:
        self.backup_mail.errors = [
            *self.backup_mail.errors,
            gettext(
                "Trop de liens de validation ont été envoyés aujourd'hui pour ce compte ou "
                "pour cette adresse : réessayez demain."
            ),
        ]


class ForwardForm(ConfirmedByPassword, FlaskForm):
    forward = BooleanField(_l("Rediriger mes messages internes ENT vers mon adresse de secours."))
    current = current_password_field()


class PasswordForm(FlaskForm):
    password = PasswordField(
        _l("Mot de passe"), validators=[DataRequired(_l("Saisissez un mot de passe."))]
    )
    confirm = PasswordField(
        _l("Confirmation mot de passe"),
        validators=[
            DataRequired(_l("Saisissez une deuxième fois votre mot de passe.")),
            EqualTo("password", _l("Les deux mots de passe ne sont pas identiques.")),
        ],
    )

    def __init__(self, *args, policy: Policy, personal: tuple[str, ...] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.policy = policy
        self.personal = personal

    def validate_password(self, field: PasswordField) -> None:
        for rule in broken_rules(field.data or "", self.policy, self.personal):
            field.errors.append(rule_message(rule, self.policy))

    def written(self, write: Callable[[str], None]) -> bool:
        """Valid, and ``write`` (a domain function) took the password. A refusal by the
        directory's policy shows on the field instead; other errors go to the view."""
        if not self.validate_on_submit():
            return False
        try:
            write(self.password.data)
        except PasswordRejected as exc:
            self.reject(exc.reason)
            return False
        return True

    def reject(self, reason: str) -> None:
        """Show the directory's refusal of the password as a field error."""
        self.password.errors = [
            *self.password.errors,
            str(DIRECTORY_MESSAGES.get(reason, DIRECTORY_MESSAGES["policy"])),
        ]


def password_form(account: Account) -> PasswordForm:
    """The new password of ``account``: the policy in force, its login and names kept out."""
    return PasswordForm(policy=current_policy(), personal=account.personal_words)


class PasswordChangeForm(ConfirmedByPassword, PasswordForm):
    current = current_password_field()

    def __iter__(self):
        """The current password first, as on the page (the error summary follows this order)."""
        yield self.current
        yield from (field for field in super().__iter__() if field is not self.current)
