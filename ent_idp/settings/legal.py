"""The ENT's legal pages: ``[legal]`` (and each ENT's ``[ent.<key>.legal]``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Conformity(StrEnum):
    """The RGAA conformity an accessibility statement declares (« non / partiellement /
    totalement conforme »)."""

    NONE = "none"
    PARTIAL = "partial"
    FULL = "full"


@dataclass(frozen=True)
class LegalSettings:
    """The ENT's legal pages: what its « Déclaration d'accessibilité » says, where its legal
    notices are. Texts written here are shown as written (in French), in every language."""

    publisher: str  # who commits to accessibility; empty: ent_name
    accessibility_status: str  # a Conformity value (checked at load)
    statement_date: str  # YYYY-MM-DD, or empty
    audit_by: str  # who audited; empty: no audit
    compliance_rate: int  # % of RGAA criteria met (0: not stated)
    non_compliant: str  # the contents known not to comply, one a line
    contact: str  # where to report an accessibility problem; empty: [mail] help_contact
    recourse_text: str  # paragraphs; empty: the Défenseur des droits' three ways
    legal_notices_url: str  # the ENT's « Mentions légales »; empty: no link

    @property
    def conformity(self) -> Conformity:
        return Conformity(self.accessibility_status)

    @property
    def statement_day(self) -> date | None:
        return date.fromisoformat(self.statement_date) if self.statement_date else None

    @property
    def non_compliant_items(self) -> list[str]:
        return [line.strip() for line in self.non_compliant.splitlines() if line.strip()]

    @property
    def recourse_paragraphs(self) -> list[str]:
        blocks = self.recourse_text.split("\n\n")
        return [" ".join(block.split()) for block in blocks if block.strip()]
