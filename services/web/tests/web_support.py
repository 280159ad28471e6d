"""What the browser tests do again and again: log in with the test e-ID, answer triage."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import BrowserContext, Locator, Page, expect
from playwright.sync_api import Error as PlaywrightError

#: Seeded test persons (identity's seed register and staff catalogue).
PATIENT_PIN = "198011139014"  # Oskar Pettersson, Västmanland
OTHER_PATIENT_PIN = "197207099636"  # Nils Karlsson, Uppsala
NURSE_PIN = "197505179882"  # Nina Sjöberg, nurse, 1177 direkt Västmanland

# The machine under test runs seven services, Kafka and PostgreSQL on few cores.
expect.set_options(timeout=20_000)

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


def new_person(browser: Any, phone: bool = True, bypass_csp: bool = False) -> BrowserContext:
    """A person's own browser (``bypass_csp``: only to inject axe-core for a check)."""
    context: BrowserContext = browser.new_context(
        viewport=PHONE if phone else DESKTOP,
        locale="sv-SE",
        timezone_id="Europe/Stockholm",
        bypass_csp=bypass_csp,
    )
    context.set_default_timeout(20_000)
    return context


def log_in(page: Page, base: str, pin: str, staff: bool = False, home: str | None = None) -> None:
    """The e-ID login as a person does it: start, open the e-ID app here, identify, return."""
    page.goto(f"{base}/staff/login" if staff else f"{base}/login")
    page.get_by_role("button", name="Logga in med BankID").click()
    expect(page).to_have_url(re.compile(r"/login/wait$"))
    expect(page.get_by_role("img", name=re.compile("QR-kod"))).to_be_visible()
    page.get_by_role("link", name="Öppna BankID på den här enheten").click()
    page.get_by_label("Personnummer").fill(pin)
    page.get_by_role("button", name="Legitimera").click()
    # The waiting page follows the order and goes on by itself.
    expect(page).to_have_url(re.compile(home or (r"/staff$" if staff else r"/start$")))


def start_fever(page: Page) -> str:
    page.get_by_role("button", name="Feber").click()
    expect(page).to_have_url(re.compile(r"/cases/[0-9a-f-]{36}/triage$"))
    match = re.search(r"/cases/([0-9a-f-]{36})/", page.url)
    assert match
    return match.group(1)


def answer_yes_no(page: Page, yes: bool) -> None:
    page.get_by_label("Ja" if yes else "Nej", exact=True).check()
    page.get_by_role("button", name="Nästa").click()


def answer_number(page: Page, label: str, value: str) -> None:
    page.get_by_label(re.compile(label)).fill(value)
    page.get_by_role("button", name="Nästa").click()


def settle(page: Page) -> None:
    """Wait until the page's latest navigation has loaded."""
    page.wait_for_load_state("load")


def click_and_load(page: Page, target: Locator) -> None:
    """Click what leads to another page (a form's post and its redirect) and wait until that
    page has loaded: a step on the page right after (reading its address, going elsewhere,
    injecting a script) would otherwise race the navigation."""
    with page.expect_navigation():
        target.click()


def take_next(nurse: Page) -> str:
    """Press "take next" on the worklist; the address it leads to (the taken case's page, or
    the worklist saying no one waits)."""
    click_and_load(nurse, nurse.get_by_role("button", name="Ta nästa patient"))
    return nurse.url


def take_case(nurse: Page, case_id: str, tries: int = 30) -> None:
    """Take next until the patient's case comes up (most urgent first, oldest first); a
    case taken on the way stays with the nurse."""
    for _ in range(tries):
        url = take_next(nurse)
        if case_id in url:
            return
        if "/staff/cases/" in url:
            nurse.goto(url.split("/staff/")[0] + "/staff")
        else:
            nurse.wait_for_timeout(500)
    raise AssertionError("the patient's case never came up")


# What Chromium answers a reload or a visit sent while another navigation of the page is
# committing.
_NAVIGATION_RACES = (
    "Not attached to an active page",
    "interrupted by another navigation",
    "ERR_ABORTED",
)


def reload(page: Page, tries: int = 5) -> None:
    """Reload once the page's latest navigation has loaded.

    A reload sent while a form's redirect or the live script's own reload is committing is
    refused ("Not attached to an active page": a CI run failed on it); that navigation is
    let to load and the reload sent again.
    """
    for attempt in range(tries):
        settle(page)
        try:
            page.reload()
            return
        except PlaywrightError as error:
            if attempt == tries - 1 or not any(race in str(error) for race in _NAVIGATION_RACES):
                raise
            page.wait_for_timeout(250)


def blank(page: Page, tries: int = 5) -> None:
    """Take the page to an empty one, where no script of ours can start a navigation.

    Chromium can acknowledge closing a page whose navigation is committing and then never
    close it; Playwright's close then waits forever (a CI run hung five minutes on it right
    after a form's redirect, a later run while the live script reloaded the waiting room
    of a case the nurse had just closed). The live script reloads a page by itself,
    at any moment, so waiting for the last navigation to load is not enough.
    """
    for attempt in range(tries):
        try:
            page.goto("about:blank", wait_until="load")
            if page.url == "about:blank":
                return
        except PlaywrightError as error:
            if attempt == tries - 1 or not any(race in str(error) for race in _NAVIGATION_RACES):
                raise
        page.wait_for_timeout(250)
    raise AssertionError(f"{page.url} kept navigating instead of closing")


def leave(*contexts: BrowserContext) -> None:
    """Close people's browsers, each page first taken to an empty one (see ``blank``)."""
    for context in contexts:
        for page in context.pages:
            blank(page)
        context.close()
