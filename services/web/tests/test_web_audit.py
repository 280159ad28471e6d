"""An auditor in a real browser (Debian's Chromium) against the real running system
(scenario 4): logs in in the staff realm, finds a patient's case through the journal's
auditor search (by identity number and by date), sees it verified against the signed
checkpoint, the state at a chosen time, downloads the FHIR export (no-store), and the
patient's access log shows the auditor's reads."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect
from web_support import PATIENT_PIN, answer_yes_no, leave, log_in, new_person, start_fever

pytestmark = [pytest.mark.web, pytest.mark.e2e]

AUDITOR_PIN = "196604208576"  # Agnes Revisor, auditor, region Västmanland


def search_until_found(page: Page, case_id: str, **fields: str) -> None:
    """Search until the journal has the case (its events travel through Kafka)."""
    link = page.locator(f"a[href='/audit/cases/{case_id}']")
    for _ in range(40):
        for field, value in fields.items():
            page.locator(f"#{field}").fill(value)
        page.get_by_role("button", name="Sök", exact=True).click()
        expect(page.get_by_role("heading", name=re.compile("^Träffar"))).to_be_visible()
        if link.count():
            return
        page.wait_for_timeout(1000)
    raise AssertionError("the auditor's search never found the case")


def test_an_auditor_finds_a_case_sees_it_verified_and_the_read_is_logged(  # type: ignore[no-untyped-def]
    web_platform, browser
) -> None:
    base = web_platform.url("web")
    # The case: a patient of the auditor's region answers triage (red flag: call 112).
    patient_ctx = new_person(browser)
    patient = patient_ctx.new_page()
    log_in(patient, base, PATIENT_PIN)
    case_id = start_fever(patient)
    answer_yes_no(patient, yes=True)
    expect(patient.get_by_role("heading", name="Ring 112 nu")).to_be_visible()
    leave(patient_ctx)

    auditor_ctx = new_person(browser, phone=False)
    page = auditor_ctx.new_page()
    page.goto(f"{base}/staff/login")
    page.get_by_role("button", name="Logga in med BankID").click()
    page.get_by_role("link", name="Öppna BankID på den här enheten").click()
    page.get_by_label("Personnummer").fill(AUDITOR_PIN)
    page.get_by_role("button", name="Legitimera").click()
    expect(page).to_have_url(re.compile(r"/audit$"))
    expect(page.get_by_role("heading", name="Granska journalen")).to_be_visible()

    # No criterion: the form says what it needs.
    page.get_by_role("button", name="Sök", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("minst ett av fälten")
    search_until_found(page, case_id, pin=PATIENT_PIN)
    # The identity number never travels in an address.
    assert PATIENT_PIN not in page.url
    today = datetime.now(ZoneInfo("Europe/Stockholm")).date().isoformat()
    page.goto(f"{base}/audit")
    search_until_found(page, case_id, on=today)

    # The case: entries, verified against the signed checkpoint, the timeline.
    page.locator(f"a[href='/audit/cases/{case_id}']").click()
    expect(page.get_by_role("heading", name="Ärendets journal")).to_be_visible()
    expect(page.get_by_role("heading", name="Verifierad: journalen är oförändrad")).to_be_visible()
    expect(page.locator("#timeline + ol li").first).to_contain_text("CaseOpened")

    # The state at a chosen time (now, Swedish time).
    now = datetime.now(ZoneInfo("Europe/Stockholm")).strftime("%Y-%m-%dT%H:%M:%S")
    page.get_by_label("Tidpunkt").fill(now)
    page.get_by_role("button", name="Visa läget").click()
    expect(page.locator("dl.state")).to_contain_text("status")

    # The FHIR export: a file, proxied, never cached.
    with page.expect_download() as download:
        page.get_by_role("link", name="Ladda ner FHIR-export").click()
    bundle = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert bundle["resourceType"] == "Bundle"
    answer = auditor_ctx.request.get(f"{base}/audit/cases/{case_id}/fhir")
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-type"].startswith("application/fhir+json")

    # The patient's access log shows the auditor's reads of the case.
    page.goto(f"{base}/audit")
    page.locator("#access-pin").fill(PATIENT_PIN)
    page.get_by_role("button", name="Visa logglistan").click()
    expect(page.get_by_role("heading", name="Patientens logglista")).to_be_visible()
    rows = page.locator("tbody tr", has_text="Agnes Revisor")
    expect(rows.filter(has_text="verify")).not_to_have_count(0)
    expect(rows.filter(has_text="audit_search")).not_to_have_count(0)
    # ... and the patient's own extract says the same.
    token = httpx.post(
        f"{web_platform.url('identity')}/identity/dev/patient-tokens",
        json={"personal_identity_number": PATIENT_PIN, "region": "Västmanland"},
    ).json()["access_token"]
    extract = httpx.get(
        f"{web_platform.url('journal')}/journal/me/access-log",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    reads = {(r["reader_role"], r["action"]) for r in extract if r["case_id"] == case_id}
    assert {("auditor", "verify"), ("auditor", "export_fhir")} <= reads, reads
    assert page.locator("html").get_attribute("lang") == "sv"
    leave(auditor_ctx)
