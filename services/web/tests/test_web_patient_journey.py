"""The patient's care journey in a real browser (Debian's Chromium) against the real running
system: answering again when worse moves the case, a complaint reaches the region's staff,
another region before starting, and the pages in Arabic (right to left) and Finnish."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Page, expect
from test_web_accessibility import violations
from web_support import (
    PATIENT_PIN,
    answer_number,
    answer_yes_no,
    leave,
    log_in,
    new_person,
    reload,
    start_fever,
)

pytestmark = [pytest.mark.web, pytest.mark.journey, pytest.mark.e2e]

REGION = "Västmanland"  # Oskar Pettersson's region


def _eventually(what: str, check: Callable[[], Any], seconds: float = 45.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"never: {what}")


def _staff_token(web_platform: Any, region: str) -> str:
    body = {
        "hsa_id": "SE2321000131-E0000B18",
        "name": "Nina Sjöberg",
        "title": "nurse",
        "region": region,
        "care_unit": f"1177 direkt {region}",
    }
    url = f"{web_platform.url('identity')}/identity/dev/staff-tokens"
    response = httpx.post(url, json=body, timeout=10)
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def _api(web_platform: Any, service: str, token: str) -> Callable[..., httpx.Response]:
    def call(method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(
            method,
            f"{web_platform.url(service)}/{service}{path}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
            **kw,
        )

    return call


def _answer_fever(page: Page, days: str) -> None:
    answer_yes_no(page, yes=False)  # hard to breathe
    answer_yes_no(page, yes=False)  # spots
    answer_number(page, "Hur hög är febern", "38,5")
    answer_number(page, "Hur många dagar", days)
    if days == "1":
        page.get_by_label("Ont i örat").check()
        page.get_by_role("button", name="Nästa").click()


def _urgency_shown(page: Page, text: str) -> None:
    """The waiting room shows queue's urgency of the case: reload until queue has moved it
    (the new triage reaches queue over Kafka). The answers' last post lands there first."""
    expect(page).to_have_url(re.compile(r"/cases/[0-9a-f-]{36}$"))

    def shown() -> bool:
        reload(page)
        urgency = page.locator("#urgency strong")
        return urgency.count() == 1 and urgency.inner_text() == text

    _eventually(f"the urgency {text!r} in the waiting room", shown)


def test_worse_while_waiting_answers_again_moves_the_case_and_a_complaint_reaches_staff(
    web_platform, browser
) -> None:  # type: ignore[no-untyped-def]
    base = web_platform.url("web")
    context = new_person(browser)
    patient = context.new_page()
    log_in(patient, base, PATIENT_PIN)
    case_id = start_fever(patient)
    _answer_fever(patient, days="1")  # ear ache for a day: a visit, green
    expect(patient).to_have_url(re.compile(rf"/cases/{case_id}$"))
    expect(patient.get_by_role("heading", name="Väntrum")).to_be_visible()
    _urgency_shown(patient, "Kan vänta en stund")

    # Worse: the same questionnaire again from the waiting room; the new urgency moves it.
    patient.get_by_role("button", name="Jag har blivit sämre").click()
    expect(patient).to_have_url(re.compile(rf"/cases/{case_id}/triage$"))
    _answer_fever(patient, days="4")  # fever for four days: a nurse with priority, yellow
    expect(patient).to_have_url(re.compile(rf"/cases/{case_id}$"))
    # Without a reload: the live socket brings the place, now with the new urgency.
    expect(patient.locator("#urgency strong")).to_have_text("Bråttom", timeout=45_000)

    # Contact begins: a stale waiting room's "worse" is refused, and the page says why.
    nurse = _api(web_platform, "queue", _staff_token(web_platform, REGION))
    _eventually(
        "the nurse to take the case",
        lambda: nurse("POST", f"/cases/{case_id}/take").status_code == 200,
    )
    expect(patient.get_by_role("heading", name="Nu är det din tur")).to_be_visible(timeout=30_000)
    # Triage hears the same turn from queue over Kafka, a moment after the page does.
    patient.wait_for_timeout(2000)
    csrf = patient.locator("#case").get_attribute("data-csrf")

    def refused() -> bool:
        answered = context.request.post(f"{base}/cases/{case_id}/retriage", form={"csrf": csrf})
        return "Du har redan kontakt med vården." in answered.text()

    _eventually("triage to refuse a re-triage once contact began", refused, seconds=20)
    patient.goto(f"{base}/cases/{case_id}?retriage=in_contact")
    expect(
        patient.get_by_role("alert").filter(has_text="Skriv i chatten hur du mår nu.")
    ).to_be_visible()

    # The nurse closes the contact; the patient complains about it from the closed case.
    chat = _api(web_platform, "chat", _staff_token(web_platform, REGION))
    closing = {
        "outcome": "self_care_advice",
        "advice": "Vila och drick mycket.",
        "documentation_note": "Feber fyra dagar, egenvård.",
    }
    _eventually(
        "the contact to close",
        lambda: chat("POST", f"/cases/{case_id}/close", json=closing).status_code < 300,
    )
    # The open page hears the closing live and shows it (no navigation of ours to race it).
    expect(patient.get_by_role("heading", name="Ärendet är avslutat")).to_be_visible(timeout=30_000)
    patient.get_by_role("link", name="Lämna synpunkter eller klaga på din kontakt med oss").click()
    expect(patient.get_by_role("heading", name="Synpunkter och klagomål")).to_be_visible()
    patient.get_by_label("Väntetiden").check()
    said = "Jag fick vänta länge fast jag blev sämre."
    patient.get_by_label("Skriv vad som hände").fill(said)
    patient.get_by_role("button", name="Skicka").click()
    expect(patient).to_have_url(re.compile(rf"/cases/{case_id}/complaint/receipt$"))
    expect(patient.get_by_role("heading", name="Tack för att du hörde av dig")).to_be_visible()
    reference = patient.locator("#complaint-reference").inner_text()

    # It reaches the region's staff as its own list.
    listed = chat("GET", "/complaints").json()
    mine = [c for c in listed if c["case_id"] == case_id]
    assert len(mine) == 1, listed
    assert mine[0]["category"] == "waiting" and mine[0]["text"] == said
    assert mine[0]["complaint_id"].startswith(reference)
    assert mine[0]["staff_name"] == "Nina Sjöberg"

    # My cases offers the same for the closed case.
    patient.goto(f"{base}/my/cases")
    row = patient.locator(f"li:has(a[href='/cases/{case_id}'])")
    expect(row.get_by_role("link", name=re.compile("Lämna synpunkter"))).to_be_visible()
    leave(context)


def test_the_patient_chooses_another_region_that_takes_patients_from_elsewhere(
    web_platform, browser
) -> None:  # type: ignore[no-untyped-def]
    base = web_platform.url("web")
    regions = httpx.get(f"{web_platform.url('triage')}/triage/regions", timeout=10).json()
    elsewhere = next(
        r["region"] for r in regions if r["patients_from_other_regions"] and r["region"] != REGION
    )
    closed = next(r["region"] for r in regions if not r["patients_from_other_regions"])
    context = new_person(browser)
    page = context.new_page()
    log_in(page, base, PATIENT_PIN)
    expect(page.locator("#region")).to_have_text(f"Du får hjälp av region {REGION}.")
    choice = page.get_by_label("Välj region")
    options = choice.locator("option").all_inner_texts()
    assert f"{REGION} (din region)" in options and elsewhere in options
    assert closed not in options  # a region closed to others is never offered

    choice.select_option(elsewhere)
    page.get_by_role("button", name="Byt region").click()
    expect(page.locator("#region")).to_have_text(f"Du får hjälp av region {elsewhere}.")
    expect(page.get_by_text(f"Du bor i region {REGION}.")).to_be_visible()
    today = httpx.get(
        f"{web_platform.url('queue')}/queue/regions/{quote(elsewhere)}", timeout=10
    ).json()
    if today["opens"]:
        expect(page.locator("#hours-today")).to_contain_text(
            f"{today['opens'][:5]} till {today['closes'][:5]}"
        )
    # A case opened now is the chosen region's: triage accepts it and asks the questions.
    start_fever(page)
    expect(page.get_by_role("heading", name=re.compile("svårt att andas"))).to_be_visible()

    # A region that takes no patients from elsewhere is refused in plain words.
    page.goto(f"{base}/start")
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    context.request.post(f"{base}/start/region", form={"csrf": csrf, "region": closed})
    page.goto(f"{base}/start?region=refused")
    expect(page.get_by_role("alert")).to_have_text(
        "Den regionen tar inte emot patienter från andra regioner."
    )
    expect(page.locator("#region")).to_have_text(f"Du får hjälp av region {elsewhere}.")
    page.get_by_label("Välj region").select_option(REGION)
    page.get_by_role("button", name="Byt region").click()
    expect(page.locator("#region")).to_have_text(f"Du får hjälp av region {REGION}.")
    leave(context)


def test_arabic_reads_right_to_left_and_a_browser_asking_for_finnish_gets_it(
    web_platform, browser, axe_script
) -> None:  # type: ignore[no-untyped-def]
    base = web_platform.url("web")
    # A visitor who chose nothing: the first supported language the browser asks for.
    finnish = browser.new_context(locale="fi-FI", timezone_id="Europe/Stockholm")
    page = finnish.new_page()
    page.goto(f"{base}/login")
    assert page.locator("html").get_attribute("lang") == "fi"
    assert page.locator("html").get_attribute("dir") == "ltr"
    expect(page.get_by_role("heading", name="Kirjaudu sisään")).to_be_visible()
    leave(finnish)

    context = new_person(browser, bypass_csp=True)
    page = context.new_page()
    log_in(page, base, PATIENT_PIN)
    switch = page.locator("form.languages button")
    assert sorted(switch.evaluate_all("bs => bs.map(b => b.value)")) == [
        "ar",
        "en",
        "fa",
        "fi",
        "so",
    ]
    page.get_by_role("button", name="العربية").click()
    expect(page).to_have_url(re.compile(r"/start$"))
    assert page.locator("html").get_attribute("lang") == "ar"
    assert page.locator("html").get_attribute("dir") == "rtl"
    expect(page.get_by_role("heading", name="بماذا تحتاج المساعدة؟")).to_be_visible()
    expect(page.locator("#sample-translation")).to_contain_text("مسودة")
    # The layout flips: the brand sits at the right edge, the text runs right to left.
    width = page.viewport_size["width"] if page.viewport_size else 360
    brand = page.locator(".brand").bounding_box()
    assert brand and brand["x"] > width / 2, brand
    assert page.evaluate("getComputedStyle(document.querySelector('main')).direction") == "rtl"
    found = violations(page, axe_script)
    assert not found, found
    page.get_by_role("link", name="حالاتي").click()
    expect(page.get_by_role("heading", name="حالاتي")).to_be_visible()
    assert not violations(page, axe_script)
    page.get_by_role("button", name="Svenska").click()
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    leave(context)


def test_no_serious_violation_on_the_new_patient_pages(web_platform, browser, axe_script) -> None:  # type: ignore[no-untyped-def]
    base = web_platform.url("web")
    context = new_person(browser, bypass_csp=True)
    page = context.new_page()
    log_in(page, base, PATIENT_PIN)
    assert not violations(page, axe_script), "start with the region choice"
    case_id = start_fever(page)
    _answer_fever(page, days="1")
    _urgency_shown(page, "Kan vänta en stund")
    assert not violations(page, axe_script), "waiting room with 'worse'"
    page.goto(f"{base}/cases/{case_id}/complaint")
    assert not violations(page, axe_script), "complaint form"
    page.goto(f"{base}/cases/{case_id}?retriage=closed")
    expect(page.get_by_role("alert").filter(has_text="Ärendet är avslutat.")).to_be_visible()
    page.get_by_role("button", name="Lämna kön").click()
    expect(page.get_by_text("Du har lämnat kön.")).to_be_visible()
    leave(context)
