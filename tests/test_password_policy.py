"""The password policy, rule by rule (the pages test the messages)."""

from __future__ import annotations

import pytest

from ent_idp.domain.password_policy import Policy, Rule, broken_rules, entropy_bits

pytestmark = pytest.mark.security

POLICY = Policy(min_length=8, max_length=256, min_entropy_bits=50, context=("ENT", "Lycée"))


@pytest.mark.parametrize(
    ("password", "bits"),
    [
        ("abcdefgh", 8 * 4.700),
        ("Abcdefgh", 8 * 5.700),
        ("Abcdef1!", 8 * 6.570),
        ("éééééééé", 8 * 6.644),
    ],
)
def test_entropy_is_length_times_log2_of_the_pool(password, bits):
    assert entropy_bits(password) == pytest.approx(bits, abs=0.01)


@pytest.mark.parametrize(
    ("password", "broken"),
    [
        ("Abc1!", [Rule.TOO_SHORT, Rule.TOO_WEAK, Rule.COMMON]),
        ("Abcdefgh", [Rule.TOO_WEAK, Rule.COMMON]),
        ("Abcdef1!", [Rule.COMMON]),
        ("Azerty123!", [Rule.COMMON]),
        ("Password1!", [Rule.COMMON]),
        ("Tr0mbone-Vert-Soleil!", []),
        ("correct horse battery", []),
        ("Martin-Vert-2026!", [Rule.CONTAINS_PERSONAL]),
        (" Tr0mbone-Vert!", [Rule.BLANK_EDGES]),
        ("x" * 257, [Rule.TOO_LONG]),
    ],
)
def test_every_broken_rule_is_named(password, broken):
    """Users fix what they are told: every rule a password breaks is named, none hidden."""
    personal = ("alice.martin", "Alice", "Martin")
    assert broken_rules(password, POLICY, personal) == broken


def test_nothing_is_truncated_or_normalised():
    """Silent truncation would let a shorter, weaker password open the account."""
    long = "Ab1!-Tr0mbone-" * 12
    assert broken_rules(long, POLICY) == []
    assert broken_rules(long + " ", POLICY) == [Rule.BLANK_EDGES], "the end is read too"


def test_a_lone_surrogate_is_scored_not_a_crash():
    """The live check takes JSON, whose ``\\ud800`` is a lone surrogate: zxcvbn takes UTF-8
    only, and a 500 on the policy check would be the page's every keystroke."""
    assert Rule.COMMON in broken_rules("\ud800", POLICY)
    assert broken_rules("Tr0mbone-Vert-Soleil!\ud800", POLICY) == []
