"""Before starting, the patient sees their region's hours today and what the service is not
for: a real browser (Debian's Chromium) against the real running system, whose queue
service answers the hours from its public list."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect
from web_support import PATIENT_PIN, leave, log_in, new_person

pytestmark = [pytest.mark.web, pytest.mark.journey, pytest.mark.e2e]


def test_the_start_page_shows_todays_hours_and_what_the_service_is_not_for(
    web_platform, browser
) -> None:  # type: ignore[no-untyped-def]
    base = web_platform.url("web")
    today = httpx.get(f"{web_platform.url('queue')}/queue/regions/Västmanland").json()
    context = new_person(browser)
    page = context.new_page()
    log_in(page, base, PATIENT_PIN)  # Oskar Pettersson lives in Västmanland
    hours = page.locator("#hours-today")
    expect(hours).to_be_visible()
    if today["opens"]:
        expected = f"I dag svarar vi från klockan {today['opens'][:5]} till {today['closes'][:5]}."
        expect(hours).to_contain_text(expected)
    else:
        expect(hours).to_contain_text(re.compile("I dag är det stängt"))
    if not today["open_now"]:
        expect(hours).to_contain_text("Vi svarar igen")
    expect(page.get_by_role("heading", name="Tjänsten är inte till för")).to_be_visible()
    expect(page.get_by_text("Livshotande tillstånd: ring 112.")).to_be_visible()
    leave(context)
