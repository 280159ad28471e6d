"""The patient's journey pages' pure parts: which regions a patient may choose, and
triage's refusals of answering again said in plain words."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from careflow.triage.domain import Contact, retriage_refusal
from careflow.web import domain, journey
from careflow.web.domain import Session
from careflow.web.i18n import translator

pytestmark = [pytest.mark.web, pytest.mark.journey, pytest.mark.unit]


def test_a_patient_may_choose_their_own_region_and_those_open_to_others() -> None:
    found = [
        {"region": "Skåne", "open_to_others": False},
        {"region": "Västmanland", "open_to_others": True},
        {"region": "Uppsala", "open_to_others": False},
        {"region": "Jönköpings län", "open_to_others": True},
    ]
    assert journey.choosable(found, "Uppsala") == ["Västmanland", "Uppsala", "Jönköpings län"]
    assert journey.choosable(found, "Västmanland") == ["Västmanland", "Jönköpings län"]
    assert journey.choosable([], "Uppsala") == []


def test_the_chosen_region_is_the_sessions_else_none() -> None:
    def session(**data: object) -> Session:
        return Session("h" * 64, "csrf", datetime(2026, 11, 26, tzinfo=UTC), data=dict(data))

    assert journey.chosen_region(session()) is None
    assert journey.chosen_region(session(chosen_region=None)) is None
    assert journey.chosen_region(session(chosen_region="Gotland")) == "Gotland"
    assert journey.home_region(session(who={"region": "Uppsala"})) == "Uppsala"


def test_triages_refusals_of_answering_again_are_said_in_plain_words() -> None:
    in_contact = retriage_refusal(Contact.IN_CONTACT)
    closed = retriage_refusal(Contact.CLOSED)
    assert in_contact and closed and retriage_refusal(Contact.WAITING) is None
    assert domain.retriage_refusal_key(in_contact) == "retriage.in_contact"
    assert domain.retriage_refusal_key(closed) == "retriage.closed"
    assert domain.retriage_refusal_key("a questionnaire is in progress") == "retriage.refused"
    t = translator("sv")
    assert (
        t("retriage.in_contact")
        == "Du har redan kontakt med vården. Skriv i chatten hur du mår nu."
    )
    assert translator("ar")("retriage.closed") != t("retriage.closed")
