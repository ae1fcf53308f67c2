"""The forms of the flows, with their validation and messages (Flask-WTF, CSRF on all)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from .passwords import Policy, Rule, broken_rules

MAX_LOGIN_LENGTH = 256

# Field messages; they name the problem and how to fix it.
RULE_MESSAGES = {
    Rule.TOO_SHORT: "Le mot de passe doit contenir au moins {min_length} caractères.",
    Rule.TOO_LONG: "Le mot de passe ne peut pas dépasser {max_length} caractères.",
    Rule.TOO_WEAK: (
        "Le mot de passe est trop simple : allongez-le ou mélangez minuscules, majuscules, "
        "chiffres et caractères spéciaux."
    ),
    Rule.CONTAINS_PERSONAL: (
        "Le mot de passe ne doit contenir ni votre identifiant, ni votre prénom, ni votre nom."
    ),
    Rule.COMMON: (
        "Ce mot de passe est trop courant ou trop facile à deviner (mot du dictionnaire, "
        "suite de clavier, date…) : choisissez-en un moins prévisible."
    ),
    Rule.BLANK_EDGES: "Le mot de passe ne doit ni commencer ni finir par une espace.",
}

# The directory's own refusals (ppolicy), by ent_idp.directory's reason code.
DIRECTORY_MESSAGES = {
    "history": (
        "Choisissez un mot de passe que vous n'avez pas encore utilisé pour ce compte "
        "(ni le mot de passe provisoire, ni un ancien mot de passe)."
    ),
    "too_short": "L'annuaire trouve ce mot de passe trop court : allongez-le.",
    "quality": "L'annuaire refuse ce mot de passe car il est trop simple : choisissez-en un autre.",
    "too_young": (
        "Le mot de passe de ce compte vient d'être changé : réessayez dans quelques minutes."
    ),
    "policy": "L'annuaire a refusé ce mot de passe : choisissez-en un autre.",
}


class RecoveryForm(FlaskForm):
    login = StringField(
        "Identifiant",
        validators=[
            DataRequired("Saisissez votre identifiant."),
            Length(max=MAX_LOGIN_LENGTH, message="Cet identifiant est trop long."),
        ],
    )


class IdentificationForm(RecoveryForm):
    password = PasswordField(
        "Mot de passe provisoire",
        validators=[
            DataRequired("Saisissez votre mot de passe provisoire."),
            Length(max=1024, message="Ce mot de passe est trop long."),
        ],
    )


class CguForm(FlaskForm):
    accept = BooleanField(
        "J'ai lu et j'accepte les Conditions Générales d'Utilisation décrites ci-dessus.",
        validators=[
            DataRequired("Cochez la case pour accepter les Conditions Générales d'Utilisation.")
        ],
    )


class BackupMailForm(FlaskForm):
    """A backup address typed twice; not the ENT address, nor the one already in place."""

    backup_mail = EmailField(
        "Adresse électronique de secours",
        validators=[
            DataRequired("Saisissez votre adresse électronique de secours."),
            Length(max=254, message="Cette adresse est trop longue."),
            Email(
                "Cette adresse n'est pas valide : vérifiez-la (exemple : prenom.nom@exemple.fr).",
                check_deliverability=False,
            ),
        ],
    )
    confirm = EmailField(
        "Confirmation de l'adresse électronique de secours",
        validators=[
            DataRequired("Saisissez une deuxième fois votre adresse électronique de secours."),
            EqualTo("backup_mail", "Les deux adresses ne sont pas identiques."),
        ],
    )

    def __init__(self, *args, ent_mail: str = "", current: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.ent_mail = ent_mail
        self.current = current

    def validate_backup_mail(self, field: EmailField) -> None:
        address = (field.data or "").strip().lower()
        if self.ent_mail and address == self.ent_mail.lower():
            raise ValidationError(
                "Votre adresse de secours doit être une adresse personnelle, "
                "différente de votre adresse ENT."
            )
        if self.current and address == self.current.lower():
            raise ValidationError("C'est déjà votre adresse de secours.")


class MailsForm(BackupMailForm):
    forward = BooleanField("Rediriger mes messages internes ENT vers cette adresse de messagerie.")


class ForwardForm(FlaskForm):
    forward = BooleanField("Rediriger mes messages internes ENT vers mon adresse de secours.")


class PasswordForm(FlaskForm):
    password = PasswordField(
        "Mot de passe", validators=[DataRequired("Saisissez un mot de passe.")]
    )
    confirm = PasswordField(
        "Confirmation mot de passe",
        validators=[
            DataRequired("Saisissez une deuxième fois votre mot de passe."),
            EqualTo("password", "Les deux mots de passe ne sont pas identiques."),
        ],
    )

    def __init__(self, *args, policy: Policy, personal: tuple[str, ...] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.policy = policy
        self.personal = personal

    def validate_password(self, field: PasswordField) -> None:
        for rule in broken_rules(field.data or "", self.policy, self.personal):
            field.errors.append(
                RULE_MESSAGES[rule].format(
                    min_length=self.policy.min_length, max_length=self.policy.max_length
                )
            )

    def reject(self, reason: str) -> None:
        """Show the directory's refusal of the password as a field error."""
        self.password.errors = [
            *self.password.errors,
            DIRECTORY_MESSAGES.get(reason, DIRECTORY_MESSAGES["policy"]),
        ]


class PasswordChangeForm(PasswordForm):
    current = PasswordField(
        "Mot de passe actuel",
        validators=[DataRequired("Saisissez votre mot de passe actuel.")],
    )

    def wrong_current(self) -> None:
        self.current.errors = [*self.current.errors, "Mot de passe actuel incorrect."]

    def held_back(self, minutes: int) -> None:
        self.current.errors = [
            *self.current.errors,
            f"Trop de tentatives : patientez {minutes} min avant de réessayer.",
        ]
