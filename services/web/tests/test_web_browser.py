"""The web front end in a real browser (Debian's Chromium) against the real running system:
patient and nurse, the red-flag path, and the security properties a browser can see."""

from __future__ import annotations

import io
import re
import uuid

import httpx
import pytest
from PIL import Image
from playwright.sync_api import expect
from web_support import (
    NURSE_PIN,
    OTHER_PATIENT_PIN,
    PATIENT_PIN,
    answer_number,
    answer_yes_no,
    blank,
    leave,
    log_in,
    new_person,
    reload,
    start_fever,
    take_case,
)

pytestmark = [pytest.mark.web, pytest.mark.e2e]

#: True once the page's peer connection has decoded video frames from the other side.
FRAMES_DECODED = """async () => {
  const peer = document.getElementById("video")?.peer;
  if (!peer) return false;
  let decoded = 0;
  (await peer.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") decoded += r.framesDecoded || 0;
  });
  return decoded > 0;
}"""

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


def photo() -> bytes:
    """A real JPEG (64 x 48 px), as a phone's camera would send."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 80, 60)).save(out, "JPEG")
    return out.getvalue()


def test_patient_and_nurse_from_login_to_my_cases(web_platform, browser) -> None:  # type: ignore[no-untyped-def]
    base = web_platform.url("web")
    patient_ctx, nurse_ctx = new_person(browser), new_person(browser, phone=False)
    patient, nurse = patient_ctx.new_page(), nurse_ctx.new_page()

    log_in(patient, base, PATIENT_PIN)
    expect(patient.get_by_text("Du får hjälp av region Västmanland.")).to_be_visible()
    expect(patient.get_by_text("Livshotande tillstånd: ring 112.")).to_be_visible()
    case_id = start_fever(patient)

    # One question per page; back keeps the case, and the question is asked again.
    expect(patient.get_by_role("heading", name=re.compile("svårt att andas"))).to_be_visible()
    answer_yes_no(patient, yes=False)
    expect(patient.get_by_role("heading", name=re.compile("prickar"))).to_be_visible()
    patient.get_by_role("button", name="Tillbaka").click()
    expect(patient.get_by_role("heading", name=re.compile("svårt att andas"))).to_be_visible()
    answer_yes_no(patient, yes=False)
    answer_yes_no(patient, yes=False)
    # Resume after closing the tab: a new tab opens at the same question.
    expect(patient.get_by_role("heading", name=re.compile("Hur hög är febern"))).to_be_visible()
    blank(patient)
    patient.close()
    patient = patient_ctx.new_page()
    patient.goto(f"{base}/cases/{case_id}/triage")
    expect(patient.get_by_role("heading", name=re.compile("Hur hög är febern"))).to_be_visible()
    answer_number(patient, "Hur hög är febern", "38,5")
    answer_number(patient, "Hur många dagar", "4")

    # The waiting room: a place in the queue, shown live.
    expect(patient).to_have_url(re.compile(rf"/cases/{case_id}$"))
    expect(patient.get_by_role("heading", name="Väntrum")).to_be_visible()
    expect(patient.locator("#position")).to_have_text(re.compile(r"^\d+$"), timeout=30_000)
    expect(patient.locator("#case")).to_have_attribute("data-live", "open")
    patient.evaluate("window.__same_page = true")
    # A notification when the turn comes, asked for from a button (never on load).
    patient_ctx.grant_permissions(["notifications"], origin=base)
    patient.get_by_role("button", name="Avisera mig när det är min tur").click()
    expect(patient.get_by_text("Du får en avisering när det är din tur.")).to_be_visible()

    log_in(nurse, base, NURSE_PIN, staff=True)
    take_case(nurse, case_id)
    expect(nurse.get_by_role("heading", name="Bedömning")).to_be_visible()

    # "Your turn" reaches the patient's page without a reload.
    expect(patient.get_by_role("heading", name="Nu är det din tur")).to_be_visible(timeout=30_000)
    assert patient.evaluate("window.__same_page") is True
    expect(patient.locator("#case")).to_have_attribute("data-notified", "true")

    nurse.get_by_label("Skriv ett meddelande").fill("Hej! Jag heter Nina. Hur mår du nu?")
    nurse.get_by_role("button", name="Skicka", exact=True).click()
    expect(patient.get_by_text("Hej! Jag heter Nina. Hur mår du nu?")).to_be_visible()
    patient.get_by_label("Skriv ett meddelande").fill("Jag har haft feber i fyra dagar.")
    patient.get_by_role("button", name="Skicka", exact=True).click()
    expect(nurse.get_by_text("Jag har haft feber i fyra dagar.")).to_be_visible()
    assert patient.evaluate("window.__same_page") is True
    # Beside the nurse's message, her name and title; each side sees the other has read.
    expect(patient.locator("li.theirs .who").first).to_have_text("Nina Sjöberg, sjuksköterska")
    expect(nurse.locator("li.mine .read").first).to_have_text("Läst")
    expect(patient.locator("li.mine .read").first).to_be_visible()

    # A photo from the patient: a file that is no photo is refused in plain Swedish first.
    patient.get_by_label("Välj foto eller PDF").set_input_files(
        {"name": "anteckning.txt", "mimeType": "image/jpeg", "buffer": b"inte en bild"}
    )
    patient.get_by_role("button", name="Skicka filen").click()
    expect(
        patient.get_by_role("alert").filter(has_text="Det går bara att skicka foton")
    ).to_be_visible()
    patient.get_by_label("Välj foto eller PDF").set_input_files(
        {"name": "utslag.jpg", "mimeType": "image/jpeg", "buffer": photo()}
    )
    patient.get_by_label("Text till filen").fill("Så här ser utslaget ut.")
    patient.get_by_role("button", name="Skicka filen").click()
    preview = nurse.get_by_role("img", name="Foto")
    expect(preview).to_be_visible()
    expect(nurse.get_by_text("Så här ser utslaget ut.")).to_be_visible()
    nurse.wait_for_function(
        "() => [...document.querySelectorAll('img.preview')].some(i => i.naturalWidth === 64)"
    )
    expect(patient.get_by_role("img", name="Foto")).to_be_visible()
    # Served by the web service as what it is, kept by no cache, and to the case's parties only.
    photo_url = str(nurse.locator("img.preview").first.evaluate("img => img.src"))
    assert photo_url.startswith(f"{base}/staff/cases/{case_id}/attachments/"), photo_url
    served = nurse_ctx.request.get(photo_url)
    assert served.status == 200 and served.headers["content-type"] == "image/jpeg"
    assert served.headers["cache-control"] == "no-store"
    own = patient_ctx.request.get(photo_url.replace("/staff/cases/", "/cases/"))
    assert own.status == 200 and own.body() == served.body()
    assert patient.evaluate("window.__same_page") is True

    # Video: the nurse starts it, the patient accepts, each page decodes the other's video.
    nurse.get_by_role("button", name="Starta video").click()
    expect(nurse.get_by_text("Väntar på att patienten svarar")).to_be_visible()
    expect(patient.get_by_text("Vården vill prata med dig i video.")).to_be_visible()
    patient.get_by_role("button", name="Svara med video").click()
    for page in (patient, nurse):
        page.wait_for_function(FRAMES_DECODED, timeout=60_000)
        page.wait_for_function("() => document.getElementById('video-remote').videoWidth > 0")
    nurse.get_by_role("button", name="Avsluta video").click()
    expect(patient.get_by_text("Videosamtalet är avslutat.")).to_be_visible()
    expect(patient.locator("#video-screens")).to_be_hidden()
    assert patient.evaluate("window.__same_page") is True

    # The triage summary with the rules that fired (from the journal, which may lag).
    for _ in range(30):
        reload(nurse)
        if nurse.get_by_text("fever>=3d").count():
            break
        nurse.wait_for_timeout(1000)
    expect(nurse.get_by_text("fever>=3d")).to_be_visible()

    advice = "Vila och drick mycket. Ring 1177 om du blir sämre."
    nurse.get_by_label("Utfall").select_option("self_care_advice")
    nurse.get_by_label("Råd till patienten").fill(advice)
    nurse.get_by_label("Journalanteckning").fill("Feber 4 dagar utan andningsbesvär. Råd givna.")
    nurse.get_by_role("button", name="Avsluta", exact=True).click()
    expect(nurse).to_have_url(re.compile(r"/staff$"))

    # The patient reads the outcome, rates, and finds the advice under "My cases".
    expect(patient.get_by_role("heading", name="Ärendet är avslutat")).to_be_visible(timeout=30_000)
    expect(patient.get_by_text(advice)).to_be_visible()
    patient.get_by_label("5: Mycket nöjd").check()
    patient.get_by_role("button", name="Skicka betyg").click()
    expect(patient.get_by_text("Tack! Du gav betyget 5 av 5.")).to_be_visible()
    patient.get_by_role("link", name="Mina ärenden").click()
    expect(patient.get_by_role("heading", name="Mina ärenden")).to_be_visible()
    mine = patient.locator(f"li:has(a[href='/cases/{case_id}'])")
    expect(mine).to_contain_text("Avslutat: Egenvårdsråd")
    expect(mine).to_contain_text(advice)

    # English second: the language switch keeps the page and sets lang.
    patient.get_by_role("button", name="English").click()
    expect(patient.get_by_role("heading", name="My cases")).to_be_visible()
    assert patient.locator("html").get_attribute("lang") == "en"
    leave(patient_ctx, nurse_ctx)


def test_red_flag_answers_end_at_call_112_and_nothing_is_queued(web_platform, browser) -> None:  # type: ignore[no-untyped-def]
    base = web_platform.url("web")
    context = new_person(browser)
    page = context.new_page()
    log_in(page, base, OTHER_PATIENT_PIN)
    case_id = start_fever(page)
    answer_yes_no(page, yes=True)

    expect(page).to_have_url(re.compile(rf"/cases/{case_id}$"))
    expect(page.get_by_role("heading", name="Ring 112 nu")).to_be_visible()
    expect(page.get_by_role("link", name="Ring 112")).to_have_attribute("href", "tel:112")
    expect(page.get_by_role("heading", name="Väntrum")).to_have_count(0)

    # Nothing queued: queue never has the case waiting.
    token = httpx.post(
        f"{web_platform.url('identity')}/identity/dev/patient-tokens",
        json={"personal_identity_number": OTHER_PATIENT_PIN, "region": "Uppsala"},
    ).json()["access_token"]
    page.wait_for_timeout(2000)
    place = httpx.get(
        f"{web_platform.url('queue')}/queue/cases/{case_id}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert place.status_code == 404 or place.json()["status"] != "waiting", place.text
    leave(context)


def test_sessions_csrf_ownership_and_no_token_in_the_browser(web_platform, browser) -> None:  # type: ignore[no-untyped-def]
    base = web_platform.url("web")

    # No session: a page with health data sends the person to log in.
    stranger = new_person(browser)
    page = stranger.new_page()
    page.goto(f"{base}/my/cases")
    expect(page).to_have_url(re.compile(r"/login$"))
    leave(stranger)

    owner_ctx, other_ctx = new_person(browser), new_person(browser)
    owner = owner_ctx.new_page()
    seen: list[str] = []
    owner.on("response", lambda r: seen.append(_body(r)))
    owner.on("websocket", lambda ws: ws.on("framereceived", lambda f: seen.append(str(f))))
    log_in(owner, base, PATIENT_PIN)
    case_id = start_fever(owner)
    answer_yes_no(owner, yes=False)

    # A state change without the CSRF token is refused, with the session cookie.
    refused = owner_ctx.request.post(f"{base}/cases", form={"questionnaire_id": "fever"})
    assert refused.status == 403
    forged = owner_ctx.request.post(
        f"{base}/cases/{case_id}/triage/back", form={"csrf": uuid.uuid4().hex}
    )
    assert forged.status == 403

    # Another patient's case does not exist for them.
    other = other_ctx.new_page()
    log_in(other, base, OTHER_PATIENT_PIN)
    for path in (
        f"/cases/{case_id}",
        f"/cases/{case_id}/triage",
        f"/cases/{case_id}/attachments/{'a' * 64}",
    ):
        response = other.goto(f"{base}{path}")
        assert response is not None and response.status == 404, path

    # The browser never holds an access or refresh token: cookies, storage, answers.
    cookies = owner_ctx.cookies()
    assert {c["name"] for c in cookies} <= {"cf_session", "cf_lang"}
    session_cookie = next(c for c in cookies if c["name"] == "cf_session")
    assert session_cookie["httpOnly"] and session_cookie["sameSite"] == "Lax"
    storage = owner.evaluate("() => JSON.stringify([localStorage, sessionStorage])")
    for text in [*[c["value"] for c in cookies], storage, *seen]:
        assert not JWT.search(text), text[:200]
    page_answer = owner_ctx.request.get(f"{base}/cases/{case_id}/triage")
    assert page_answer.headers["cache-control"] == "no-store"
    assert "unsafe-inline" not in page_answer.headers["content-security-policy"]
    leave(owner_ctx, other_ctx)


def _body(response) -> str:  # type: ignore[no-untyped-def]
    try:
        return f"{response.headers} {response.text()}"
    except Exception:
        return str(response.headers)
