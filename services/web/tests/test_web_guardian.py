"""A guardian acts for their child in a real browser (Debian's Chromium) against the real
running system: the children aged 1-12 from the register, the child's triage and waiting
room, the child's cases, and a stranger who gets 404 on the child's case (scenario 2).
That a 13-year-old is no longer listed is proven with the register's seed data and a fixed
date in identity's tests (``test_a_guardian_sees_their_children_aged_1_to_12...``)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from web_support import OTHER_PATIENT_PIN, answer_number, answer_yes_no, leave, log_in, new_person

pytestmark = [pytest.mark.web, pytest.mark.e2e]

GUARDIAN_PIN = "198506129488"  # Sara Svensson, Västmanland: guardian of four children


def test_a_guardian_acts_for_a_child_and_a_stranger_gets_404(web_platform, browser) -> None:  # type: ignore[no-untyped-def]
    base = web_platform.url("web")
    guardian_ctx, stranger_ctx = new_person(browser), new_person(browser)
    page = guardian_ctx.new_page()
    log_in(page, base, GUARDIAN_PIN)

    page.get_by_role("link", name="Agera för mitt barn").click()
    expect(page.get_by_role("heading", name="Agera för mitt barn")).to_be_visible()
    # Aged 1-12 only: the infant born in 2026 is not offered.
    choices = page.locator("ul.choices button")
    expect(choices).to_have_count(3)
    expect(page.get_by_role("button", name=re.compile("^Anna Andersson"))).to_have_count(0)
    expect(page.get_by_role("button", name="Maria Bengtsson, 6 år")).to_be_visible()
    assert page.locator("html").get_attribute("lang") == "sv"
    page.get_by_role("button", name="Maria Bengtsson, 6 år").click()

    # Every page says whom the guardian acts for; triage asks about the child.
    expect(page).to_have_url(re.compile(r"/start$"))
    expect(page.get_by_text("Du agerar för Maria.")).to_be_visible()
    page.get_by_role("button", name="Feber").click()
    expect(page).to_have_url(re.compile(r"/cases/[0-9a-f-]{36}/triage$"))
    match = re.search(r"/cases/([0-9a-f-]{36})/", page.url)
    assert match
    case_id = match.group(1)
    answer_yes_no(page, yes=False)
    answer_yes_no(page, yes=False)
    answer_number(page, "Hur hög är febern", "40")
    expect(page.get_by_role("heading", name="Hur dricker barnet?")).to_be_visible()
    page.get_by_label("Som vanligt").check()
    page.get_by_role("button", name="Nästa").click()

    # The child's waiting room, live.
    expect(page).to_have_url(re.compile(rf"/cases/{case_id}$"))
    expect(page.get_by_role("heading", name="Väntrum")).to_be_visible()
    expect(page.locator("#position")).to_have_text(re.compile(r"^\d+$"), timeout=30_000)
    page.get_by_role("link", name="Mina ärenden").click()
    expect(page.locator(f"a[href='/cases/{case_id}']")).to_be_visible()
    expect(page.locator(f"li:has(a[href='/cases/{case_id}'])")).to_contain_text("Väntar i kö")

    # A stranger does not learn the child's case exists.
    stranger = stranger_ctx.new_page()
    log_in(stranger, base, OTHER_PATIENT_PIN)
    for path in (f"/cases/{case_id}", f"/cases/{case_id}/triage"):
        response = stranger.goto(f"{base}{path}")
        assert response is not None and response.status == 404, path

    # As themselves again, the child's case is not among the guardian's own ...
    page.get_by_role("button", name="Sluta agera för barnet").click()
    expect(page).to_have_url(re.compile(r"/children$"))
    expect(page.get_by_text("Du agerar för Maria.")).to_have_count(0)
    page.goto(f"{base}/my/cases")
    expect(page.locator(f"a[href='/cases/{case_id}']")).to_have_count(0)
    # ... and acting for the child again shows it.
    page.goto(f"{base}/children")
    page.get_by_role("button", name="Maria Bengtsson, 6 år").click()
    expect(page.get_by_text("Du agerar för Maria.")).to_be_visible()
    page.goto(f"{base}/cases/{case_id}")
    expect(page.get_by_role("heading", name="Väntrum")).to_be_visible()
    assert page.context.request.get(f"{base}/children").headers["cache-control"] == "no-store"
    leave(guardian_ctx, stranger_ctx)
