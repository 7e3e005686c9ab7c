"""`securitySoftware` judged on hand-made facts: product found running, off, unknown, absent.

Each case is one row of a table: what the check found, the requirement and the accepted products
→ the verdict, and whether an UNKNOWN is held against the user. Then what the card says: what was
seen, the requirement as written, the accepted products in the directions, in English and German.
"""

from __future__ import annotations

from typing import Any

import pytest

from stethoscope_desktop.core.evaluate import evaluate
from stethoscope_desktop.core.facts import Fact
from stethoscope_desktop.core.policy import Requirement
from stethoscope_desktop.core.report import PracticeResult
from stethoscope_desktop.core.status import Status
from tests.core.test_evaluate_facts import TEXTS, facts, failed, found, policy, result
from tests.ui.reports import practices

CHECK = "security_software"
PASS, NUDGE, FAIL, UNK = Status.PASS, Status.NUDGE, Status.FAIL, Status.UNKNOWN
ALWAYS, SUGGESTED, IF_SUPPORTED = "ALWAYS", "SUGGESTED", "IF_SUPPORTED"


def product(name: str, enabled: int | None, detail: str = "") -> dict[str, Any]:
    state = {1: "on", 0: "off", None: "unknown"}[enabled]
    return {
        "name": name,
        "version": None,
        "enabled": enabled,
        "up_to_date": None,
        "source": "test",
        "detail": detail or f"{name} is {state}",
    }


FALCON = "CrowdStrike Falcon Sensor"
DEFENDER = "Windows Defender"
FACTS: dict[str, Fact] = {
    "falcon-running": found(CHECK, product(FALCON, 1)),
    "falcon-off": found(CHECK, product(FALCON, 0)),
    "falcon-unknown": found(CHECK, product(FALCON, None, "cannot tell whether Falcon runs")),
    "nothing": found(CHECK),
    "defender-running": found(CHECK, product(DEFENDER, 1)),
    "falcon-off-defender-running": found(CHECK, product(FALCON, 0), product(DEFENDER, 1)),
    "falcon-unknown-defender-off": found(CHECK, product(FALCON, None), product(DEFENDER, 0)),
    "unreadable": failed(CHECK, "Windows Security Center cannot be read"),
}
ANY: tuple[str, ...] = ()
FALCON_ONLY = ("crowdstrike",)

# (what the check found, accepted products, requirement) -> (verdict, held against the user)
CASES = [
    # Any product counts.
    ("falcon-running", ANY, ALWAYS, PASS, True),
    ("falcon-running", ANY, SUGGESTED, PASS, True),
    ("falcon-running", ANY, IF_SUPPORTED, PASS, True),
    ("falcon-off", ANY, ALWAYS, FAIL, True),
    ("falcon-off", ANY, SUGGESTED, NUDGE, True),
    ("falcon-off", ANY, IF_SUPPORTED, FAIL, True),
    ("falcon-unknown", ANY, ALWAYS, UNK, True),
    ("falcon-unknown", ANY, SUGGESTED, UNK, True),
    ("falcon-unknown", ANY, IF_SUPPORTED, UNK, False),
    ("nothing", ANY, ALWAYS, FAIL, True),
    ("nothing", ANY, SUGGESTED, NUDGE, True),
    ("nothing", ANY, IF_SUPPORTED, FAIL, True),  # the platform can tell: none is there
    ("defender-running", ANY, ALWAYS, PASS, True),  # built-in protection counts
    ("falcon-off-defender-running", ANY, ALWAYS, PASS, True),
    ("falcon-unknown-defender-off", ANY, ALWAYS, UNK, True),
    ("unreadable", ANY, ALWAYS, UNK, True),
    ("unreadable", ANY, SUGGESTED, UNK, True),
    ("unreadable", ANY, IF_SUPPORTED, UNK, False),  # Windows Server: not held against
    # Only CrowdStrike counts.
    ("falcon-running", FALCON_ONLY, ALWAYS, PASS, True),
    ("falcon-running", FALCON_ONLY, SUGGESTED, PASS, True),
    ("falcon-running", FALCON_ONLY, IF_SUPPORTED, PASS, True),
    ("falcon-off", FALCON_ONLY, ALWAYS, FAIL, True),
    ("falcon-off", FALCON_ONLY, SUGGESTED, NUDGE, True),
    ("falcon-unknown", FALCON_ONLY, ALWAYS, UNK, True),
    ("falcon-unknown", FALCON_ONLY, IF_SUPPORTED, UNK, False),
    ("nothing", FALCON_ONLY, ALWAYS, FAIL, True),
    ("nothing", FALCON_ONLY, SUGGESTED, NUDGE, True),
    ("defender-running", FALCON_ONLY, ALWAYS, FAIL, True),  # not an accepted product
    ("defender-running", FALCON_ONLY, SUGGESTED, NUDGE, True),
    ("defender-running", FALCON_ONLY, IF_SUPPORTED, FAIL, True),
    ("falcon-off-defender-running", FALCON_ONLY, ALWAYS, FAIL, True),
    ("falcon-unknown-defender-off", FALCON_ONLY, ALWAYS, UNK, True),
    ("unreadable", FALCON_ONLY, ALWAYS, UNK, True),
    ("unreadable", FALCON_ONLY, IF_SUPPORTED, UNK, False),
]


def rule(requirement: str, products: tuple[str, ...]) -> str | dict[str, Any]:
    if not products:
        return requirement
    return {"requirement": requirement, "products": list(products)}


def judged(fact: str, products: tuple[str, ...], requirement: str) -> PracticeResult:
    report = evaluate(
        policy({"securitySoftware": rule(requirement, products)}),
        facts({CHECK: FACTS[fact]}),
        TEXTS,
    )
    return result(report, "securitySoftware")


@pytest.mark.parametrize(
    ("fact", "products", "requirement", "status", "held"),
    CASES,
    ids=[f"{c[0]}-{'+'.join(c[1]) or 'any'}-{c[2]}" for c in CASES],
)
def test_verdicts(
    fact: str, products: tuple[str, ...], requirement: str, status: Status, held: bool
) -> None:
    practice = judged(fact, products, requirement)
    assert (practice.status, practice.held_against) == (status, held)
    if status is UNK:
        assert practice.reason
    else:
        assert practice.reason == ""


def test_every_found_product_is_the_evidence() -> None:
    practice = judged("falcon-off-defender-running", FALCON_ONLY, ALWAYS)
    assert [row["name"] for row in practice.evidence.rows] == [FALCON, DEFENDER]


@pytest.mark.parametrize(
    ("fact", "products", "observed"),
    [
        ("falcon-running", ANY, f"ON ({FALCON} is on)"),
        ("falcon-off-defender-running", ANY, f"ON ({DEFENDER} is on)"),
        ("falcon-off-defender-running", FALCON_ONLY, f"OFF ({FALCON} is off)"),
        (
            "defender-running",
            ("CrowdStrike", "Carbon Black"),
            f"OFF (none of CrowdStrike, Carbon Black was found; found: {DEFENDER})",
        ),
        ("nothing", ANY, "OFF (no antivirus or endpoint protection was found)"),
        ("falcon-unknown", ANY, ""),
    ],
)
def test_what_the_card_says_it_saw(fact: str, products: tuple[str, ...], observed: str) -> None:
    assert judged(fact, products, ALWAYS).observed == observed


def test_why_it_could_not_tell() -> None:
    assert judged("falcon-unknown", ANY, ALWAYS).reason == "cannot tell whether Falcon runs"
    unreadable = judged("unreadable", ANY, ALWAYS).reason
    assert unreadable == "Windows Security Center cannot be read"
    # Only the products it cannot tell about, not the one it knows is off.
    mixed = judged("falcon-unknown-defender-off", ANY, ALWAYS).reason
    assert mixed == f"{FALCON} is unknown"


@pytest.mark.parametrize(
    ("products", "matches", "not_matches"),
    [
        (("crowdstrike",), ["CrowdStrike Falcon Sensor", "CROWDSTRIKE FALCON"], ["Falcon"]),
        (("Carbon  Black",), ["VMware Carbon Black Cloud", "carbon black edr"], ["CarbonBlack"]),
        (("Defender",), ["Windows Defender", "Microsoft Defender for Endpoint"], ["XProtect"]),
        # Names, not regular expressions: a dot is a dot.
        (("Sophos.*",), [], ["Sophos Endpoint"]),
    ],
)
def test_accepted_product_names(
    products: tuple[str, ...], matches: list[str], not_matches: list[str]
) -> None:
    parsed = policy({"securitySoftware": rule(ALWAYS, products)}).security_software
    assert parsed is not None
    assert [name for name in matches if parsed.accepts(name)] == matches
    assert [name for name in not_matches if parsed.accepts(name)] == []


def test_the_policy_reads_both_forms() -> None:
    short = policy({"securitySoftware": "SUGGESTED"}).security_software
    assert short is not None
    assert (short.requirement, short.products, str(short)) == (
        Requirement.SUGGESTED,
        (),
        "SUGGESTED",
    )
    long = policy(
        {
            "securitySoftware": {
                "requirement": "ALWAYS",
                "products": ["Falcon", " Jamf  Protect", "Falcon"],
            }
        }
    ).security_software
    assert long is not None
    assert long.products == ("Falcon", "Jamf Protect")  # blanks made one, duplicates dropped
    assert str(long) == "ALWAYS (Falcon, Jamf Protect)"


def test_the_requirement_and_the_accepted_products_are_said() -> None:
    practice = judged("nothing", ("CrowdStrike", "Carbon Black"), ALWAYS)
    assert practice.requirement == "ALWAYS (CrowdStrike, Carbon Black)"
    assert practice.requirement_text == "must be on"
    assert practice.directions.endswith(
        "Your organization accepts only this security software: CrowdStrike, Carbon Black."
    )
    assert practice.directions_platform == "debian"
    assert practice.title == "Turn on security software"
    assert practice.name == "Security software"


def test_without_products_the_directions_name_none() -> None:
    practice = judged("nothing", ANY, ALWAYS)
    assert "accepts only" not in practice.directions
    assert practice.directions.startswith("1. ")
    assert "{{" not in practice.directions


def test_a_passing_card_and_a_german_one() -> None:
    passing = judged("falcon-running", ANY, ALWAYS)
    assert passing.title == "Security software is running"
    german = practices("de").instructions
    report = evaluate(
        policy({"securitySoftware": {"requirement": "ALWAYS", "products": ["CrowdStrike"]}}),
        facts({CHECK: FACTS["nothing"]}),
        german,
    )
    practice = result(report, "securitySoftware")
    assert practice.title == "Schalten Sie Sicherheitssoftware ein"
    assert practice.directions.endswith(
        "Ihre Organisation akzeptiert nur diese Sicherheitssoftware: CrowdStrike."
    )


def test_a_policy_without_the_key_has_no_such_practice() -> None:
    report = evaluate(policy({"firewall": "ALWAYS"}), facts({CHECK: FACTS["nothing"]}), TEXTS)
    assert report.practice("securitySoftware") is None
