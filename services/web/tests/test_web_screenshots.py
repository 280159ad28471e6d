"""`make screenshots`: the main pages as people see them, written to docs/screenshots/.

Not a check: it walks the patient's and the nurse's path in Debian's Chromium against the real
running system and saves what each page looks like (patient at phone width, staff at desktop
width). It runs only when asked (``CAREFLOW_SCREENSHOTS=1``), so `make test` leaves the
committed pictures alone.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

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
    start_fever,
    take_case,
)

pytestmark = [
    pytest.mark.screenshots,
    pytest.mark.skipif(
        not os.environ.get("CAREFLOW_SCREENSHOTS"), reason="run by `make screenshots` only"
    ),
]

OUT = Path(__file__).resolve().parents[3] / "docs" / "screenshots"


def shoot(page: Page, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)


def test_the_main_pages(web_platform, browser) -> None:  # type: ignore[no-untyped-def]
    base = web_platform.url("web")
    patient_ctx, nurse_ctx = new_person(browser), new_person(browser, phone=False)
    patient, nurse = patient_ctx.new_page(), nurse_ctx.new_page()

    patient.goto(f"{base}/login")
    shoot(patient, "patient-1-login")
    log_in(patient, base, PATIENT_PIN)
    shoot(patient, "patient-2-start")
    case_id = start_fever(patient)
    expect(patient.get_by_role("heading", name=re.compile("svårt att andas"))).to_be_visible()
    shoot(patient, "patient-3-triage-question")
    answer_yes_no(patient, yes=False)
    answer_yes_no(patient, yes=False)
    answer_number(patient, "Hur hög är febern", "38,5")
    answer_number(patient, "Hur många dagar", "4")
    expect(patient.locator("#position")).to_have_text(re.compile(r"^\d+$"), timeout=30_000)
    shoot(patient, "patient-4-waiting-room")

    log_in(nurse, base, NURSE_PIN, staff=True)
    shoot(nurse, "staff-1-worklist")
    take_case(nurse, case_id)
    expect(nurse.get_by_role("heading", name="Bedömning")).to_be_visible()
    shoot(nurse, "staff-2-case")
    expect(patient.get_by_role("heading", name="Nu är det din tur")).to_be_visible(timeout=30_000)
    shoot(patient, "patient-5-your-turn")
    leave(patient_ctx, nurse_ctx)
