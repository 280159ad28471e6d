"""The staff pages' pure parts (issue 14): the closing form asks for exactly what each
outcome needs and says which field is missing; the texts of the new pages in both languages."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from careflow.web import closing, i18n_staff
from careflow.web.i18n import EN, SV

pytestmark = [pytest.mark.web, pytest.mark.unit]

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
STOCKHOLM = ZoneInfo("Europe/Stockholm")
NOTE = {"documentation_note": "Feber 4 dagar."}
TEMPLATES = Path(closing.__file__).parent / "templates"


def check(**form: str) -> closing.Closing:
    return closing.check_closing(form, NOW, STOCKHOLM)


def test_each_outcome_needs_its_own_fields_and_says_which_is_missing() -> None:
    assert check(outcome="self_care_advice", **NOTE).errors == {"advice": "close.err.required"}
    assert check(outcome="referral", **NOTE).errors == {"referral_to": "close.err.required"}
    assert check(outcome="prescription_renewal", **NOTE).errors == {
        "renewed_prescription": "close.err.required"
    }
    assert check(outcome="booked_appointment", appointment_unit="VC Viksäng", **NOTE).errors == {
        "appointment_at": "close.err.required"
    }
    assert check(outcome="booked_appointment", **NOTE).errors == {
        "appointment_unit": "close.err.required",
        "appointment_at": "close.err.required",
    }
    # The note every close needs; blanks are not an answer.
    assert check(outcome="referral", referral_to="Ortopeden").errors == {
        "documentation_note": "close.err.required"
    }
    assert check(outcome="referral", referral_to="   ", **NOTE).errors == {
        "referral_to": "close.err.required"
    }
    assert check(outcome="withdrawn", **NOTE).errors == {"outcome": "close.err.outcome"}
    assert check(**NOTE).errors == {"outcome": "close.err.outcome"}
    # Emergency: the unit is welcome, not required.
    emergency = check(outcome="redirected_to_emergency", **NOTE)
    assert emergency.errors == {} and emergency.body is not None
    assert emergency.body["emergency_unit"] is None


def test_a_booked_time_must_be_a_time_ahead_in_the_care_units_zone() -> None:
    base = {"outcome": "booked_appointment", "appointment_unit": "VC Viksäng", **NOTE}
    wrong = check(**base, appointment_at="tomorrow at nine")
    assert wrong.body is None and wrong.errors == {"appointment_at": "close.err.not_a_time"}
    past = check(**base, appointment_at="2026-11-26T12:30")  # 11:30 UTC: before NOW
    assert past.errors == {"appointment_at": "close.err.in_past"}
    booked = check(**base, appointment_at="2026-11-27T09:30")
    assert booked.errors == {} and booked.body is not None
    assert booked.body["appointment"] == {
        "care_unit": "VC Viksäng",
        "starts_at": "2026-11-27T09:30:00+01:00",
    }


def test_only_the_chosen_outcomes_fields_are_sent() -> None:
    typed = {
        **NOTE,
        "advice": "Vila.",
        "referral_to": "Ortopeden",
        "renewed_prescription": "Alvedon",
        "appointment_unit": "VC",
        "appointment_at": "nonsense",  # another outcome's field: ignored, not refused
    }
    referral = check(outcome="referral", **typed)
    assert referral.body == {
        "outcome": "referral",
        "advice": "Vila.",
        "documentation_note": "Feber 4 dagar.",
        "referral_to": "Ortopeden",
    }
    advice = check(outcome="self_care_advice", **typed)
    assert advice.body == {
        "outcome": "self_care_advice",
        "advice": "Vila.",
        "documentation_note": "Feber 4 dagar.",
    }
    too_long = check(outcome="referral", **{**typed, "referral_to": "x" * 201})
    assert too_long.errors == {"referral_to": "close.err.too_long"}


def test_the_new_texts_exist_in_both_languages_and_are_merged() -> None:
    assert set(i18n_staff.SV) == set(i18n_staff.EN)
    assert all(SV[k] == v for k, v in i18n_staff.SV.items())
    assert all(EN[k] == v for k, v in i18n_staff.EN.items())
    errors = {v for required in closing.REQUIRED.values() for v in required}
    assert errors <= set(closing.FIELDS)
    for key in ("close.err.required", "close.err.not_a_time", "close.err.in_past"):
        assert key in SV and key in EN
    for urgency in range(1, 6):
        assert f"staff.colour.{urgency}" in SV


def test_without_script_every_outcome_has_a_labelled_fieldset() -> None:
    page = (TEMPLATES / "staff_case.html").read_text()
    for outcome in ("booked_appointment", "referral", "prescription_renewal"):
        legend = rf'<legend>{{{{ t\("closing.{outcome}"\) }}}}</legend>'
        fieldset = re.search(rf'<fieldset data-for="{outcome}">\s*{legend}', page)
        assert fieldset, outcome
    # Shown to a browser without script; the script hides the others.
    assert "<fieldset data-for" in page and not re.search(r"<fieldset[^>]*\bhidden\b", page)
