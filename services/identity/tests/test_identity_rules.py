"""Identity rules, table-tested on plain data with a fixed 'today'."""

from __future__ import annotations

from datetime import date

import pytest

from careflow.identity import domain
from careflow.identity.domain import NotAllowed, Person, Refusal, parse_identity_number
from careflow.identity.register import SeedRegister
from careflow.kit.domain import Invalid

pytestmark = [pytest.mark.identity, pytest.mark.unit]

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("raw", "digits", "kind"),
    [
        ("191212121212", "191212121212", "personal_identity_number"),
        ("19121212-1212", "191212121212", "personal_identity_number"),
        ("121212-1212", "201212121212", "personal_identity_number"),  # a child born 2012
        ("121212+1212", "191212121212", "personal_identity_number"),  # '+': 100 or older
        ("199007749850", "199007749850", "coordination_number"),  # day + 60
    ],
)
def test_numbers_are_parsed_and_normalised_to_12_digits(raw: str, digits: str, kind: str) -> None:
    from stdnum import luhn

    if kind == "coordination_number":  # build a Luhn-valid coordination number
        digits = digits[:11] + luhn.calc_check_digit(digits[2:11])
        raw = digits
    number = parse_identity_number(raw, TODAY)
    assert number.digits == digits and number.kind.value == kind


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("191212121213", "check digit"),
        ("19121312-1212", "check digit"),
        ("12345", "10 or 12 digits"),
        ("19121212-121X", "10 or 12 digits"),
        ("20301212-1213", "check digit"),
    ],
)
def test_bad_numbers_are_refused_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(Invalid, match=reason):
        parse_identity_number(raw, TODAY)


def test_birth_date_age_and_sex_are_derived() -> None:
    number = parse_identity_number("191212121212", TODAY)
    assert number.birth_date == date(1912, 12, 12) and number.sex == "M"
    assert number.age_on(TODAY) == 113
    assert number.age_on(date(2026, 12, 12)) == 114  # the birthday itself counts


def person(
    pin: str,
    region: str | None = "Uppsala",
    protected: bool = False,
    children: tuple[str, ...] = (),
) -> Person:
    return Person(pin, "Test", "Person", region, protected, children)


def number_born(born: date, male: bool = True) -> domain.IdentityNumber:
    from stdnum import luhn

    body = born.strftime("%y%m%d") + ("981" if male else "982")
    digits = born.strftime("%Y%m%d") + body[6:] + luhn.calc_check_digit(body)
    return parse_identity_number(digits, TODAY)


@pytest.mark.parametrize(
    ("born", "region", "protected", "refusal"),
    [
        (date(1980, 1, 1), "Uppsala", False, None),
        (date(1980, 1, 1), "Stockholm", False, Refusal.REGION_NOT_SERVED),
        (date(1980, 1, 1), None, False, Refusal.REGION_NOT_SERVED),
        (date(1980, 1, 1), "Uppsala", True, Refusal.PROTECTED_IDENTITY),
        (date(2026, 1, 1), "Uppsala", False, Refusal.UNDER_ONE),
        (date(2025, 11, 26), "Uppsala", False, Refusal.UNDER_ONE),  # one tomorrow
        (date(2025, 11, 25), "Uppsala", False, Refusal.CHILD_MUST_BE_ACTED_FOR),  # one today
        (date(2013, 11, 26), "Uppsala", False, Refusal.CHILD_MUST_BE_ACTED_FOR),  # 13 tomorrow
        (date(2013, 11, 25), "Uppsala", False, None),  # 13 today: logs in themselves
        (date(2010, 6, 1), "Skåne", False, None),
    ],
)
def test_who_may_log_in_as_a_patient(
    born: date, region: str | None, protected: bool, refusal: Refusal | None
) -> None:
    number = number_born(born)
    who = person(number.digits, region, protected)
    if refusal is None:
        assert domain.check_patient(number, who, TODAY) == who
    else:
        with pytest.raises(NotAllowed) as info:
            domain.check_patient(number, who, TODAY)
        assert info.value.refusal is refusal and info.value.reason


def test_coordination_number_and_unknown_person_are_refused_with_guidance() -> None:
    from stdnum import luhn

    body = "900774985"
    coordination = parse_identity_number("19" + body + luhn.calc_check_digit(body), TODAY)
    with pytest.raises(NotAllowed) as info:
        domain.check_patient(coordination, person(coordination.digits), TODAY)
    assert info.value.refusal is Refusal.COORDINATION_NUMBER and "1177" in info.value.reason
    with pytest.raises(NotAllowed) as info:
        domain.check_patient(number_born(date(1980, 1, 1)), None, TODAY)
    assert info.value.refusal is Refusal.NOT_IN_REGISTER


@pytest.mark.parametrize(
    (
        "child_born",
        "is_guardian",
        "guardian_protected",
        "child_protected",
        "child_region",
        "refusal",
    ),
    [
        (date(2020, 3, 3), True, False, False, "Uppsala", None),
        (date(2025, 11, 25), True, False, False, "Uppsala", None),  # turns one today
        (date(2025, 11, 26), True, False, False, "Uppsala", Refusal.CHILD_TOO_YOUNG),
        (date(2013, 11, 26), True, False, False, "Uppsala", None),  # 12, 13 tomorrow
        (date(2013, 11, 25), True, False, False, "Uppsala", Refusal.CHILD_TOO_OLD),  # 13 today
        (date(2020, 3, 3), False, False, False, "Uppsala", Refusal.NOT_GUARDIAN),
        (date(2020, 3, 3), True, True, False, "Uppsala", Refusal.PROTECTED_GUARDIANSHIP),
        (date(2020, 3, 3), True, False, True, "Uppsala", Refusal.PROTECTED_GUARDIANSHIP),
        (date(2020, 3, 3), True, False, False, "Stockholm", Refusal.REGION_NOT_SERVED),
    ],
)
def test_who_may_act_for_a_child(
    child_born: date,
    is_guardian: bool,
    guardian_protected: bool,
    child_protected: bool,
    child_region: str,
    refusal: Refusal | None,
) -> None:
    child_number = number_born(child_born, male=False)
    child = person(child_number.digits, child_region, child_protected)
    guardian = person(
        number_born(date(1985, 5, 5)).digits,
        "Uppsala",
        guardian_protected,
        (child.pin,) if is_guardian else (),
    )
    if refusal is None:
        assert domain.check_acting_for(guardian, child_number, child, TODAY) == child
    else:
        with pytest.raises(NotAllowed) as info:
            domain.check_acting_for(guardian, child_number, child, TODAY)
        assert info.value.refusal is refusal


async def test_the_seed_register_covers_every_rule() -> None:
    register = SeedRegister()
    people = register.all()
    assert len(people) >= 50
    outcomes: set[str] = set()
    for p in people:
        number = parse_identity_number(p.pin, TODAY)
        try:
            domain.check_patient(number, p, TODAY)
            outcomes.add("patient_ok")
        except NotAllowed as refused:
            outcomes.add(refused.refusal.value)
        for child_pin in p.guardian_of:
            child_number = parse_identity_number(child_pin, TODAY)
            try:
                domain.check_acting_for(p, child_number, await register.lookup(child_pin), TODAY)
                outcomes.add("acting_ok")
            except NotAllowed as refused:
                outcomes.add("acting:" + refused.refusal.value)
    assert outcomes >= {
        "patient_ok",
        "acting_ok",
        "coordination_number",
        "under_one",
        "child_must_be_acted_for",
        "protected_identity",
        "region_not_served",
        "acting:child_too_young",
        "acting:child_too_old",
        "acting:protected_guardianship",
        "acting:region_not_served",
    }, outcomes


def test_production_refuses_the_test_e_id_and_development_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pydantic import ValidationError

    from careflow.identity.settings import IdentitySettings

    monkeypatch.setenv("CAREFLOW_ENVIRONMENT", "production")
    monkeypatch.setenv("CAREFLOW_TOKEN_SECRET", "s" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://id:pw@db/careflow?ssl=verify-full")
    monkeypatch.setenv("CAREFLOW_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ValidationError, match="test e-ID provider is refused"):
        IdentitySettings()
    monkeypatch.setenv("CAREFLOW_EID_PROVIDER", "oidc")
    with pytest.raises(ValidationError, match="SIGNING_SEED still has its development default"):
        IdentitySettings()
    monkeypatch.setenv("CAREFLOW_TOKEN_SIGNING_SEED", "a-real-secret-seed-from-the-vault")
    with pytest.raises(ValidationError, match="PSEUDONYM_KEY still has its development default"):
        IdentitySettings()
    monkeypatch.setenv("CAREFLOW_PSEUDONYM_KEY", "s" * 40)
    with pytest.raises(ValidationError, match="not the token secret"):
        IdentitySettings()
    monkeypatch.setenv("CAREFLOW_PSEUDONYM_KEY", "p" * 40)
    with pytest.raises(ValidationError, match="refuses production until a population register"):
        IdentitySettings()
    monkeypatch.setenv("CAREFLOW_POPULATION_REGISTER", "http")
    with pytest.raises(ValidationError, match="needs CAREFLOW_POPULATION_REGISTER_URL"):
        IdentitySettings()
    monkeypatch.setenv("CAREFLOW_POPULATION_REGISTER_URL", "https://navet.region.example")
    monkeypatch.setenv("CAREFLOW_POPULATION_REGISTER_CERTFILE", "/run/secrets/register/tls.crt")
    monkeypatch.setenv("CAREFLOW_POPULATION_REGISTER_KEYFILE", "/run/secrets/register/tls.key")
    assert IdentitySettings().eid_provider == "oidc"
