"""Notification settings, the web app manifest and the service worker in a real browser
(Debian's Chromium) against the real running system.

What can be proven here: the manifest is served as ``application/manifest+json`` and is a
valid installable manifest; the service worker is served as JavaScript under the site's
CSP and registers at the root scope; SMS and e-mail choices reach notify and come back
from it; a push message delivered to the service worker (through Chromium's DevTools
protocol, standing in for the push service) shows "Nu är det din tur".

What cannot: a real push service. ``PushManager.subscribe`` needs the browser vendor's
push service, which is not reachable offline, so the subscription handed to notify here is
a well-formed one made by the test; notify's own check then refuses its endpoint because
the push service's host does not resolve offline. The refusal is notify's, so it proves
the page's subscription reaches notify through the web service (with the page's CSRF
token); on a machine with the internet notify accepts it instead.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect
from web_support import leave, log_in, new_person

pytestmark = [pytest.mark.web, pytest.mark.e2e]

PIN = "198212149127"  # Maja Jakobsson, Örebro län: no other browser test uses her
#: A well-formed subscription as PushSubscription.toJSON() gives it (keys from RFC 8291).
SUBSCRIPTION = {
    "endpoint": "https://fcm.googleapis.com/fcm/send/careflow-test-endpoint",
    "keys": {
        "p256dh": (
            "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
        ),
        "auth": "BTBZMqHH6r4Tts7J_aSIgg",
    },
}


def test_the_manifest_and_the_service_worker_are_served_for_an_installable_app(  # type: ignore[no-untyped-def]
    web_platform, browser
) -> None:
    base = web_platform.url("web")
    context = new_person(browser)
    page = context.new_page()
    page.goto(f"{base}/login")
    href = page.locator("link[rel=manifest]").get_attribute("href")
    assert href == "/manifest.webmanifest"
    served = context.request.get(f"{base}{href}")
    assert served.headers["content-type"].startswith("application/manifest+json")
    manifest = json.loads(served.text())
    assert manifest["lang"] == "sv" and manifest["name"]
    assert manifest["start_url"] == "/start" and manifest["display"] == "standalone"
    icon = context.request.get(f"{base}{manifest['icons'][0]['src']}")
    assert icon.ok and icon.headers["content-type"].startswith("image/svg+xml")

    worker = context.request.get(f"{base}/sw.js")
    assert worker.headers["content-type"].startswith("text/javascript")
    assert "unsafe-inline" not in worker.headers["content-security-policy"]
    assert worker.headers["cache-control"] == "no-store"
    # It registers at the root scope under the site's own CSP.
    scope = page.evaluate(
        "() => navigator.serviceWorker.register('/sw.js', {scope: '/'})"
        ".then(() => navigator.serviceWorker.ready).then(r => r.scope)"
    )
    assert scope == f"{base}/"
    leave(context)


def test_settings_reach_notify_and_the_subscription_is_handed_over(web_platform, browser) -> None:  # type: ignore[no-untyped-def]
    base = web_platform.url("web")
    context = new_person(browser)
    context.grant_permissions(["notifications"], origin=base)
    page = context.new_page()
    log_in(page, base, PIN)
    page.get_by_role("link", name="Aviseringar").click()
    expect(page.get_by_role("heading", name="Aviseringar", exact=True)).to_be_visible()
    assert page.locator("html").get_attribute("lang") == "sv"

    # A number without country code: notify refuses it, the page says so.
    page.get_by_label("Sms").check()
    page.get_by_label("Mobilnummer").fill("0701234567")
    page.get_by_role("button", name="Spara").click()
    expect(page.get_by_role("alert")).to_contain_text("Det gick inte att spara")
    page.get_by_label("Mobilnummer").fill("+46701234567")
    page.get_by_label("E-post", exact=True).check()
    page.get_by_label("E-postadress").fill("maja@example.se")
    page.get_by_role("button", name="Spara").click()
    expect(page.get_by_role("status").first).to_have_text("Dina val är sparade.")
    # What the page shows now comes back from notify.
    page.goto(f"{base}/notifications")
    expect(page.get_by_label("Sms")).to_be_checked()
    expect(page.get_by_label("E-post", exact=True)).to_be_checked()
    expect(page.get_by_label("Mobilnummer")).to_have_value("+46701234567")

    # Push: notify serves its VAPID key to the page; the button registers the worker.
    expect(page.locator("#push")).to_have_attribute("data-key", re.compile(r"^[A-Za-z0-9_-]{80,}$"))
    page.get_by_role("button", name="Slå på avisering i den här webbläsaren").click()
    registered = page.evaluate("() => navigator.serviceWorker.ready.then(r => r.scope)")
    assert registered == f"{base}/"
    handed = page.evaluate("s => window.careflowPush.handOver(s)", SUBSCRIPTION)
    assert handed["ok"] or "does not resolve" in handed["detail"], handed
    leave(context)


def test_the_service_worker_shows_your_turn_from_a_push(web_platform, browser) -> None:  # type: ignore[no-untyped-def]
    base = web_platform.url("web")
    context = new_person(browser)
    context.grant_permissions(["notifications"], origin=base)
    page = context.new_page()
    page.goto(f"{base}/login")
    cdp = context.new_cdp_session(page)
    registrations: list[dict] = []  # type: ignore[type-arg]
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(e["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    page.evaluate(
        "() => navigator.serviceWorker.register('/sw.js', {scope: '/'})"
        ".then(() => navigator.serviceWorker.ready)"
    )
    page.wait_for_timeout(500)
    registration = next(r for r in registrations if r["scopeURL"] == f"{base}/")
    # What notify's Web Push carries (channels.WebPush): title, body, language.
    message = {"title": "Nu är det din tur", "body": "Vården kan ta emot dig nu.", "lang": "sv"}
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": base,
            "registrationId": registration["registrationId"],
            "data": json.dumps(message),
        },
    )
    titles: list[str] = []
    for _ in range(40):
        titles = page.evaluate(
            "() => navigator.serviceWorker.ready"
            ".then(r => r.getNotifications()).then(ns => ns.map(n => n.title))"
        )
        if titles:
            break
        page.wait_for_timeout(250)
    assert titles == ["Nu är det din tur"], titles
    leave(context)
