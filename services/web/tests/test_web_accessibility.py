"""axe-core finds no serious or critical WCAG violation on the pages of the patient and
staff paths, at phone width for patients and desktop width for staff; a refused login
says why in plain words."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from web_support import (
    NURSE_PIN,
    PATIENT_PIN,
    answer_number,
    answer_yes_no,
    click_and_load,
    leave,
    log_in,
    new_person,
    settle,
    start_fever,
)

pytestmark = [pytest.mark.web, pytest.mark.e2e]

UNDER_ONE_PIN = "202605029004"  # Anna Andersson, born 2026: refused, call 1177


def violations(page: Page, axe: str) -> list[dict[str, Any]]:
    settle(page)  # the check runs on the page the last click led to, once it has loaded
    page.add_script_tag(path=axe)
    found: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a',"
        " 'wcag21aa']})).violations.map(v => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))"
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]


def check(page: Page, axe: str, name: str, report: dict[str, Any]) -> None:
    found = violations(page, axe)
    if found:
        report[name] = found


def log_in_checking(page: Page, base: str, pin: str, axe: str, report: dict[str, Any]) -> None:
    staff = pin == NURSE_PIN
    page.goto(f"{base}/staff/login" if staff else f"{base}/login")
    check(page, axe, "login", report)
    page.get_by_role("button", name="Logga in med BankID").click()
    expect(page).to_have_url(re.compile(r"/login/wait$"))
    check(page, axe, "login/wait", report)
    click_and_load(page, page.get_by_role("link", name="Öppna BankID på den här enheten"))
    check(page, axe, "test e-ID", report)
    page.get_by_label("Personnummer").fill(pin)
    page.get_by_role("button", name="Legitimera").click()
    expect(page).to_have_url(re.compile(r"/staff$" if staff else r"/start$"))


def test_no_serious_violation_on_the_main_pages(web_platform, browser, axe_script) -> None:  # type: ignore[no-untyped-def]
    base = web_platform.url("web")
    report: dict[str, Any] = {}
    # The site's CSP refuses injected scripts (as it should): axe-core needs it bypassed.
    patient = new_person(browser, bypass_csp=True).new_page()
    log_in_checking(patient, base, PATIENT_PIN, axe_script, report)
    check(patient, axe_script, "start", report)
    start_fever(patient)
    check(patient, axe_script, "question yes/no", report)
    answer_yes_no(patient, yes=False)
    answer_yes_no(patient, yes=False)
    check(patient, axe_script, "question number", report)
    answer_number(patient, "Hur hög är febern", "hot")
    check(patient, axe_script, "question with an error", report)
    answer_number(patient, "Hur hög är febern", "38")
    answer_number(patient, "Hur många dagar", "5")
    expect(patient.get_by_role("heading", name="Väntrum")).to_be_visible()
    check(patient, axe_script, "waiting room", report)
    patient.goto(f"{base}/my/cases")
    check(patient, axe_script, "my cases", report)
    patient.goto(f"{base}/no-such-page")
    check(patient, axe_script, "not found", report)

    nurse = new_person(browser, phone=False, bypass_csp=True).new_page()
    log_in_checking(nurse, base, NURSE_PIN, axe_script, report)
    check(nurse, axe_script, "worklist", report)
    nurse.get_by_role("button", name="Ta nästa patient").click()
    expect(nurse).to_have_url(re.compile(r"/staff/cases/"))
    check(nurse, axe_script, "staff case", report)
    # The conversation's forms, with a refused file said in plain words.
    refused = f"{nurse.url.split('?')[0]}?attach=attach.too_large"
    for _ in range(30):  # chat opens the conversation a moment after the claim
        nurse.goto(refused)
        if nurse.get_by_text("Filen är för stor.").is_visible():
            break
        nurse.wait_for_timeout(1000)
    expect(nurse.get_by_text("Filen är för stor.")).to_be_visible()
    check(nurse, axe_script, "staff case with a refused file", report)
    leave(patient.context, nurse.context)
    assert not report, report


def test_a_refused_login_says_why_in_plain_words(web_platform, browser) -> None:  # type: ignore[no-untyped-def]
    page = new_person(browser).new_page()
    page.goto(f"{web_platform.url('web')}/login")
    page.get_by_role("button", name="Logga in med BankID").click()
    page.get_by_role("link", name="Öppna BankID på den här enheten").click()
    page.get_by_label("Personnummer").fill(UNDER_ONE_PIN)
    page.get_by_role("button", name="Legitimera").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Barn under ett år kan inte få hjälp här. Ring 1177."
    )
    expect(page.get_by_role("link", name="Försök igen")).to_be_visible()
    leave(page.context)


def tab_to(page: Page, text: str) -> None:
    """Press Tab until the focused element says ``text`` (a keyboard user's way)."""
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const e = document.activeElement;"
            " return (e.labels && e.labels[0] ? e.labels[0].textContent : e.textContent)"
            " .trim(); }"
        )
        if focused == text:
            return
    raise AssertionError(f"{text!r} is not reachable with Tab")


def test_the_patient_path_works_with_the_keyboard_alone(web_platform, browser) -> None:  # type: ignore[no-untyped-def]
    page = new_person(browser).new_page()
    page.goto(f"{web_platform.url('web')}/login")
    tab_to(page, "Logga in med BankID")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/login/wait$"))
    tab_to(page, "Öppna BankID på den här enheten")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/eid/test-app"))
    tab_to(page, "Personnummer (12 siffror)")
    page.keyboard.type(PATIENT_PIN)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/start$"))
    tab_to(page, "Feber")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/triage$"))
    for n in (1, 2):  # breathing, spots: no
        expect(page.get_by_text(f"Fråga {n}", exact=False)).to_be_visible()
        tab_to(page, "Ja")  # a radio group is one Tab stop; the arrows choose within it
        page.keyboard.press("ArrowDown")
        expect(page.get_by_label("Nej", exact=True)).to_be_checked()
        page.keyboard.press("Enter")
    for n, number in ((3, "38"), (4, "5")):  # temperature, days
        expect(page.get_by_text(f"Fråga {n}", exact=False)).to_be_visible()
        for _ in range(40):
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.id") == "value":
                break
        page.keyboard.type(number)
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Väntrum")).to_be_visible()
    leave(page.context)


def fits_360(page: Page) -> bool:
    """Nothing wider than a 360 px phone: no sideways scrolling of the page itself."""
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= 360"))


def test_no_serious_violation_on_the_guardian_auditor_and_settings_pages(  # type: ignore[no-untyped-def]
    web_platform, browser, axe_script
) -> None:
    base = web_platform.url("web")
    report: dict[str, Any] = {}
    narrow: list[str] = []
    guardian = new_person(browser, bypass_csp=True).new_page()
    log_in(guardian, base, "198306139513")  # Per Jönsson, Västmanland: guardian
    for path, name in (("/children", "children"), ("/notifications", "notifications")):
        guardian.goto(f"{base}{path}")
        check(guardian, axe_script, name, report)
        if not fits_360(guardian):
            narrow.append(name)
    guardian.goto(f"{base}/children")
    guardian.locator("ul.choices button").first.click()
    expect(guardian).to_have_url(re.compile(r"/start$"))
    check(guardian, axe_script, "start, acting for a child", report)
    if not fits_360(guardian):
        narrow.append("start, acting")
    # Keyboard: the acting banner's button is reachable with Tab.
    tab_to(guardian, "Sluta agera för barnet")

    auditor = new_person(browser, bypass_csp=True).new_page()  # an auditor at phone width too
    log_in(auditor, base, "196604208576", staff=True, home=r"/audit$")
    check(auditor, axe_script, "audit search", report)
    auditor.locator("#on").fill("2026-01-01")
    click_and_load(auditor, auditor.get_by_role("button", name="Sök", exact=True))
    check(auditor, axe_script, "audit results", report)
    auditor.locator("#access-pin").fill(PATIENT_PIN)
    click_and_load(auditor, auditor.get_by_role("button", name="Visa logglistan"))
    check(auditor, axe_script, "audit access log", report)
    for name in ("audit search", "audit access log"):
        if not fits_360(auditor):
            narrow.append(name)
    leave(guardian.context, auditor.context)
    assert not report, report
    assert not narrow, narrow
