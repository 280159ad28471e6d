"""Care staff's pages in a real browser (Debian's Chromium) against the real running system
(issue 14): the worklist lists the waiting cases in order with their care-guarantee deadline;
a case put back returns to the queue; a case moved shows in the other queue; the closing form
refuses a booked appointment without a time, saying which field, and accepts it with one;
a consultant is invited; axe-core finds no serious violation on the new or changed pages."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from test_web_accessibility import check
from web_support import (
    NURSE_PIN,
    PATIENT_PIN,
    answer_number,
    answer_yes_no,
    leave,
    log_in,
    new_person,
    reload,
    start_fever,
    take_next,
)

# Seven services start for the first browser test of a run; on a busy machine that and
# three takes, two moves and a close take longer than the default five minutes.
pytestmark = [pytest.mark.web, pytest.mark.e2e, pytest.mark.timeout(900)]

#: Each row of a queue's ordered list: its urgency (1 most urgent) and minutes waited.
ROWS = """(table) => [...document.querySelectorAll(`${table} tbody tr`)].map((tr) => ({
  id: tr.dataset.case,
  urgency: Number(tr.querySelector('.urgency').className.match(/u(\\d)/)[1]),
  waited: parseInt(tr.cells[2].textContent, 10),
  due: tr.cells[3].textContent.trim(),
}))"""


def fever_case(page: Page, base: str) -> str:
    """A patient's fever case, answered to the waiting room."""
    page.goto(f"{base}/start")
    case_id = start_fever(page)
    answer_yes_no(page, yes=False)
    answer_yes_no(page, yes=False)
    answer_number(page, "Hur hög är febern", "38,5")
    answer_number(page, "Hur många dagar", "4")
    expect(page.get_by_role("heading", name="Väntrum")).to_be_visible()
    return case_id


def listed(nurse: Page, base: str, table: str, case_id: str) -> list[dict[str, Any]]:
    """The worklist's rows of ``table`` once ``case_id`` shows there (queue learns of a case
    through Kafka, a moment after triage)."""
    for _ in range(40):
        nurse.goto(f"{base}/staff")
        rows: list[dict[str, Any]] = nurse.evaluate(ROWS, table)
        if any(r["id"] == case_id for r in rows):
            return rows
        nurse.wait_for_timeout(500)
    raise AssertionError(f"{case_id} never showed in {table}")


def take(nurse: Page, base: str, case_id: str) -> None:
    """Take next until the case comes up (the queue gives the most urgent, oldest first)."""
    for _ in range(30):
        nurse.goto(f"{base}/staff")
        if case_id in take_next(nurse):
            expect(nurse.get_by_role("heading", name="Bedömning")).to_be_visible()
            return
        nurse.wait_for_timeout(300)
    raise AssertionError("the case never came up")


def in_order(rows: list[dict[str, Any]]) -> bool:
    """Most urgent first, then the longest waiting."""
    keys = [(r["urgency"], -r["waited"]) for r in rows]
    return keys == sorted(keys)


def test_worklist_requeue_transfer_and_the_closing_form(web_platform, browser, axe_script) -> None:  # type: ignore[no-untyped-def]
    base = web_platform.url("web")
    report: dict[str, Any] = {}
    patient = new_person(browser).new_page()
    log_in(patient, base, PATIENT_PIN)
    first = fever_case(patient, base)
    second = fever_case(patient, base)

    nurse = new_person(browser, phone=False, bypass_csp=True).new_page()
    log_in(nurse, base, NURSE_PIN, staff=True)
    listed(nurse, base, "#queue-nurse", first)
    rows = listed(nurse, base, "#queue-nurse", second)
    assert in_order(rows), rows
    ids = [r["id"] for r in rows]
    assert ids.index(first) < ids.index(second)  # same urgency, waited longer
    mine = rows[ids.index(first)]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", mine["due"]), mine
    row = nurse.locator(f"#queue-nurse tr[data-case='{first}']")
    expect(row).to_contain_text(re.compile(r"Röd|Orange|Gul|Grön|Blå"))  # text, not colour only
    check(nurse, axe_script, "worklist in order", report)

    # Put back with a reason: the case is in the queue again.
    take(nurse, base, first)
    check(nurse, axe_script, "staff case", report)
    nurse.locator("#requeue_reason").fill("Patienten svarar inte just nu")
    nurse.get_by_role("button", name="Lägg tillbaka").click()
    expect(nurse).to_have_url(re.compile(r"/staff\?done=requeued$"))
    expect(nurse.get_by_role("status")).to_contain_text("tillbaka i kön")
    assert first in [r["id"] for r in listed(nurse, base, "#queue-nurse", first)]

    # Moved to the doctors' queue: it leaves the nurses' list for the doctors'.
    take(nurse, base, first)
    nurse.locator("#transfer_skill").select_option("doctor")
    nurse.locator("#transfer_reason").fill("Behöver bedömas av läkare")
    nurse.get_by_role("button", name="Flytta", exact=True).click()
    expect(nurse).to_have_url(re.compile(r"/staff\?done=transferred$"))
    listed(nurse, base, "#queue-doctor", first)
    assert first not in [r["id"] for r in nurse.evaluate(ROWS, "#queue-nurse")]

    # The second case: a consultant, then closing.
    take(nurse, base, second)
    for _ in range(30):  # chat opens the conversation a moment after the claim
        if nurse.locator("#close-form").count():
            break
        nurse.wait_for_timeout(1000)
        reload(nurse)
    nurse.locator("#consultant_id").fill("SE2321000131-E0000042")
    nurse.locator("#consult_reason").fill("Utslag: hudläkare")
    nurse.get_by_role("button", name="Bjud in").click()
    expect(nurse.get_by_text("Konsulten är inbjuden.")).to_be_visible()

    # With script only the chosen outcome's fieldset shows.
    nurse.get_by_label("Utfall").select_option("booked_appointment")
    booked = nurse.locator("fieldset[data-for='booked_appointment']")
    expect(booked).to_be_visible()
    expect(nurse.locator("fieldset[data-for='referral']")).to_be_hidden()
    nurse.get_by_label(re.compile("^Mottagning")).fill("VC Viksäng")
    nurse.get_by_label(re.compile("^Journalanteckning")).fill("Feber 4 dagar. Bokad tid.")
    # The server checks too, whatever the browser lets through.
    nurse.evaluate("document.getElementById('close-form').noValidate = true")
    nurse.get_by_role("button", name="Avsluta", exact=True).click()
    expect(nurse.get_by_role("alert")).to_contain_text("Ärendet är inte avslutat")
    when = nurse.get_by_label(re.compile("^Tid"))
    expect(when).to_have_attribute("aria-invalid", "true")
    expect(nurse.locator("#appointment_at-error")).to_have_text("Fyll i fältet.")
    # What was typed is kept.
    expect(nurse.get_by_label(re.compile("^Mottagning"))).to_have_value("VC Viksäng")
    expect(nurse.get_by_label("Utfall")).to_have_value("booked_appointment")
    expect(booked).to_be_visible()
    check(nurse, axe_script, "closing form with an error", report)

    tomorrow = datetime.now(ZoneInfo("Europe/Stockholm")) + timedelta(days=1)
    when.fill(tomorrow.strftime("%Y-%m-%dT09:30"))
    nurse.get_by_role("button", name="Avsluta", exact=True).click()
    expect(nurse).to_have_url(re.compile(r"/staff$"))
    nurse.goto(f"{base}/staff/cases/{second}")
    expect(nurse.get_by_text("Ärendet är avslutat: Bokad tid")).to_be_visible()
    leave(patient.context, nurse.context)
    assert not report, report
