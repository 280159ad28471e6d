"""Staff's and auditors' records in a real browser (Debian's Chromium) against the real
running system (issue 18): a nurse closes a contact with a documentation note, finds it
among her unsigned notes (flagged once overdue) and signs it, and reads the patient's
complaint in the region's list; the region's auditor draws the monthly sample check of the
nurse's care unit, records a conclusion that the CSV then carries, and searches the
access log across the journal, queue, chat and notify by patient and by reader.

The journal flags an unsigned note after 15 seconds here (``conftest``), not a day.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect
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
    take_case,
)

pytestmark = [pytest.mark.web, pytest.mark.journey, pytest.mark.e2e]

AUDITOR_PIN = "196604208576"  # Agnes Revisor, auditor, region Västmanland
NURSE_NAME = "Nina Sjöberg"
NURSE_UNIT = "1177 direkt Västmanland"
COMPLAINT = "Jag fick vänta länge och ingen förklarade varför."


def reload_until(page: Page, shown: Any, what: str, tries: int = 40) -> None:
    """Reload until ``shown`` is on the page (events reach the journal through Kafka)."""
    for _ in range(tries):
        if shown.count():
            return
        page.wait_for_timeout(1000)
        reload(page)
    raise AssertionError(f"never shown: {what}")


def staff_login(page: Page, base: str, pin: str, home: str) -> None:
    log_in(page, base, pin, staff=True, home=home)


@pytest.fixture(scope="module")
def closed_case(web_platform, browser) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A patient's case a nurse took, wrote in and closed with a documentation note; the
    patient then complained about the contact (through chat's API, as the app would)."""
    base = web_platform.url("web")
    patient_ctx, nurse_ctx = new_person(browser), new_person(browser, phone=False)
    patient, nurse = patient_ctx.new_page(), nurse_ctx.new_page()
    log_in(patient, base, PATIENT_PIN)
    case_id = start_fever(patient)
    answer_yes_no(patient, yes=False)  # hard to breathe?
    answer_yes_no(patient, yes=False)  # spots that stay when pressed?
    answer_number(patient, "Hur hög är febern", "38,5")
    answer_number(patient, "Hur många dagar", "4")
    expect(patient.get_by_role("heading", name="Väntrum")).to_be_visible()

    staff_login(nurse, base, NURSE_PIN, r"/staff$")
    take_case(nurse, case_id)
    # The triage summary comes from the journal: once shown, the nurse's read is logged there.
    reload_until(nurse, nurse.get_by_text("fever>=3d"), "the triage summary")
    nurse.get_by_label("Utfall").select_option("self_care_advice")
    nurse.get_by_label("Råd till patienten").fill("Vila och drick mycket.")
    nurse.get_by_label("Journalanteckning").fill("Feber 4 dagar. Råd givna.")
    nurse.get_by_role("button", name="Avsluta", exact=True).click()
    expect(nurse).to_have_url(re.compile(r"/staff$"))
    leave(patient_ctx, nurse_ctx)

    token = httpx.post(
        f"{web_platform.url('identity')}/identity/dev/patient-tokens",
        json={"personal_identity_number": PATIENT_PIN, "region": "Västmanland"},
    ).json()["access_token"]
    filed = httpx.post(
        f"{web_platform.url('chat')}/chat/cases/{case_id}/complaints",
        json={"category": "waiting", "text": COMPLAINT},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert filed.status_code == 201, filed.text
    yield case_id


def test_a_nurse_signs_her_overdue_note_and_reads_the_regions_complaints(  # type: ignore[no-untyped-def]
    web_platform, browser, closed_case
) -> None:
    base = web_platform.url("web")
    context = new_person(browser, phone=False)
    page = context.new_page()
    staff_login(page, base, NURSE_PIN, r"/staff$")

    page.get_by_role("link", name="Osignerade anteckningar").click()
    expect(page.get_by_role("heading", name="Osignerade anteckningar")).to_be_visible()
    note = page.locator("tr", has=page.locator(f"a[href='/staff/cases/{closed_case}']"))
    reload_until(page, note, "the nurse's unsigned note")
    expect(note).to_contain_text("Egenvårdsråd")
    # Flagged once unsigned for longer than the journal allows.
    reload_until(page, note.filter(has_text="Försenad: signera nu"), "the overdue flag")
    expect(note).to_have_class(re.compile("overdue"))

    note.get_by_role("button", name="Signera").click()
    expect(page.get_by_role("status")).to_have_text("Anteckningen är signerad.")
    expect(note).to_have_count(0)
    # The journal recorded the signature: the note stays off the list after a reload.
    reload(page)
    expect(page.get_by_role("heading", name="Osignerade anteckningar")).to_be_visible()
    expect(note).to_have_count(0)

    page.get_by_role("link", name="Klagomål").click()
    expect(page.get_by_role("heading", name="Klagomål från patienter")).to_be_visible()
    complaint = page.locator("li", has_text=COMPLAINT)
    reload_until(page, complaint, "the patient's complaint")
    expect(complaint).to_contain_text("Väntetid")
    expect(complaint).to_contain_text(NURSE_NAME)
    assert page.locator("html").get_attribute("lang") == "sv"
    leave(context)


def test_an_auditor_checks_a_monthly_sample_and_searches_every_services_log(  # type: ignore[no-untyped-def]
    web_platform, browser, closed_case
) -> None:
    base = web_platform.url("web")
    context = new_person(browser, phone=False)
    page = context.new_page()
    staff_login(page, base, AUDITOR_PIN, r"/audit$")

    # The monthly sample of the nurse's care unit: her reads of the case are in it.
    month = datetime.now(ZoneInfo("Europe/Stockholm")).strftime("%Y-%m")
    page.get_by_role("link", name="Stickprov").click()
    expect(page.get_by_role("heading", name="Stickprovskontroll av loggar")).to_be_visible()
    page.get_by_label("Vårdenhet").fill(NURSE_UNIT)
    page.get_by_label("Månad (ÅÅÅÅ-MM)").fill(month)
    page.get_by_label("Frö (sparas med rapporten)").fill("granskning-1")
    page.get_by_label("Antal läsningar").fill("200")
    page.get_by_role("button", name="Ta stickprov").click()
    expect(page.get_by_role("heading", name=re.compile("^Stickprov: "))).to_be_visible()
    reads = page.locator("ol.sample > li", has_text=NURSE_NAME)
    reload_until(page, reads, "the nurse's reads in the sample")
    first = reads.first
    read_id = (first.get_attribute("id") or "").removeprefix("read-")
    conclusion = "Läsningen hade vårdrelation. Inga brister."
    first.get_by_label(f"Din slutsats om läsning {read_id}").fill(conclusion)
    first.get_by_role("button", name="Spara slutsats").click()
    expect(page.locator(f"#read-{read_id} .conclusion")).to_contain_text(conclusion)
    # The same seed draws the same sample; the CSV carries the recorded conclusion.
    with page.expect_download() as download:
        page.get_by_role("link", name="Ladda ner som CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = {r["access_id"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows[read_id]["conclusion"] == conclusion
    assert rows[read_id]["concluded_by"] == "SE2321000206-A0005"
    answer = context.request.get(
        f"{base}/audit/samples/csv",
        params={"care_unit": NURSE_UNIT, "month": month, "seed": "granskning-1", "size": "200"},
    )
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-type"].startswith("text/csv")

    # The access log across services, by patient: every service names its own reads.
    page.get_by_role("link", name="Sök i loggar").click()
    expect(page.get_by_role("heading", name="Sök i alla tjänsters loggar")).to_be_visible()
    page.get_by_role("button", name="Sök i loggarna").click()
    expect(page.get_by_role("alert")).to_contain_text("Fyll i minst ett fält")
    page.get_by_label("Patientens personnummer (12 siffror)").fill(PATIENT_PIN)
    page.get_by_role("button", name="Sök i loggarna").click()
    expect(page.get_by_role("heading", name=re.compile("^Läsningar: "))).to_be_visible()
    assert PATIENT_PIN not in page.url
    nurse_rows = page.locator(
        "table.reads tbody tr", has=page.locator(f"a[href='/audit/cases/{closed_case}']")
    ).filter(has_text=NURSE_NAME)
    for service, shown in (("journal", "Journalen"), ("chat", "Chatten"), ("queue", "Kön")):
        logged = nurse_rows.and_(page.locator(f"tr[data-service='{service}']"))
        expect(logged).not_to_have_count(0)
        expect(logged.first.locator("td").nth(1)).to_have_text(shown)
        expect(logged.first).to_contain_text(NURSE_UNIT)

    # By reader and period alone: the nurse's reads, in every service, today.
    today = datetime.now(ZoneInfo("Europe/Stockholm")).date().isoformat()
    page.get_by_label("Den som läste (HSA-id eller namn)").fill("Sjöberg")
    page.get_by_label("Från och med").fill(today)
    page.get_by_label("Till och med").fill(today)
    page.get_by_role("button", name="Sök i loggarna").click()
    expect(page.get_by_role("heading", name=re.compile("^Läsningar: "))).to_be_visible()
    found = page.locator("table.reads tbody tr")
    expect(found.filter(has_text="Agnes Revisor")).to_have_count(0)
    services = set(found.evaluate_all("rows => rows.map(r => r.dataset.service)"))
    assert {"journal", "chat", "queue"} <= services, services
    leave(context)
