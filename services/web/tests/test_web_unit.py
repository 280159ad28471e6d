"""The web front end's pure parts: CSRF, sessions, answers, catalogs, and the page budget."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from careflow.kit.domain import Forbidden
from careflow.web import domain
from careflow.web.closing import OUTCOMES
from careflow.web.domain import Session
from careflow.web.http import video_relay
from careflow.web.http.common import CSP
from careflow.web.i18n import EN, SV, translator

pytestmark = [pytest.mark.web, pytest.mark.unit]

PACKAGE = Path(domain.__file__).parent
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def session(**kw: object) -> Session:
    return Session("h" * 64, "the-csrf-token", NOW + timedelta(minutes=30), **kw)  # type: ignore[arg-type]


def test_every_state_change_needs_the_sessions_csrf_token() -> None:
    domain.check_csrf(None, "GET", None)
    domain.check_csrf(session(), "POST", "the-csrf-token")
    for method, sent, held in [
        ("POST", None, session()),
        ("POST", "another-token", session()),
        ("DELETE", "the-csrf-token", None),
        ("put", "", session()),
    ]:
        with pytest.raises(Forbidden):
            domain.check_csrf(held, method, sent)


def test_a_socket_must_come_from_this_site() -> None:
    assert domain.same_origin("http://127.0.0.1:8000", "127.0.0.1:8000")
    assert domain.same_origin("https://vard.example", "vard.example")
    assert not domain.same_origin("https://evil.example", "vard.example")
    assert not domain.same_origin(None, "vard.example")


def test_a_session_expires_when_idle_and_is_extended_only_in_steps() -> None:
    held = session()
    assert not domain.expired(held, NOW)
    assert domain.expired(held, NOW + timedelta(minutes=30))
    idle = timedelta(minutes=30)
    assert domain.extended(held, NOW + timedelta(seconds=10), idle) is None
    assert domain.extended(held, NOW + timedelta(minutes=5), idle) == NOW + timedelta(minutes=35)


def test_the_cookie_secret_is_never_the_stored_key() -> None:
    assert domain.id_hash("secret") != "secret" and len(domain.id_hash("secret")) == 64


def test_answers_are_shaped_as_triage_wants_them() -> None:
    assert domain.answer_value("yes_no", {"value": ["yes"]}, False) is True
    assert domain.answer_value("yes_no", {"value": ["no"]}, False) is False
    assert domain.answer_value("number", {"value": ["38,5"]}, False) == 38.5
    assert domain.answer_value("number", {"value": ["4"]}, True) == 4
    assert domain.answer_value("multiple_choice", {}, False) == []
    assert domain.answer_value("multiple_choice", {"value": ["a", "b"]}, False) == ["a", "b"]
    assert domain.answer_value("single_choice", {"value": ["less"]}, False) == "less"
    for kind, form in [("yes_no", {}), ("number", {"value": ["hot"]}), ("free_text", {})]:
        with pytest.raises(ValueError):
            domain.answer_value(kind, form, False)


def test_refusals_and_failed_orders_are_told_in_plain_words() -> None:
    t = translator("sv")
    assert "1177" in t(domain.refusal_key("under_one"))
    assert "skyddade" in t(domain.refusal_key("protected_identity"))
    assert "personnummer" in t(domain.refusal_key("coordination_number"))
    assert "region" in t(domain.refusal_key("region_not_served"))
    assert t(domain.refusal_key("something_new")) == SV["refused.other"]
    assert t(domain.hint_key("userCancel")) == SV["eid.cancelled"]


def _template_keys() -> set[str]:
    keys: set[str] = set()
    for template in (PACKAGE / "templates").glob("*.html"):
        text = template.read_text()
        keys |= set(re.findall(r"""t\(["']([a-z_0-9.]+)["'](?=\s*[,)])""", text))
    return keys


def test_both_languages_have_every_text() -> None:
    assert set(SV) == set(EN)
    dynamic = (
        {f"closing.{o}" for o in (*OUTCOMES, "withdrawn")}
        | {f"title.{t}" for t in ("nurse", "doctor", "psychologist", "administrator")}
        | {f"login.{p}_{r}" for p in ("title", "intro") for r in ("patient", "staff")}
        | {f"rating.n{n}" for n in range(1, 6)}
        | set(domain.RECOMMENDATION_KEYS.values())
        | {f"recommendation.{r}" for r in domain.RECOMMENDATION_KEYS}
        | set(domain.REFUSAL_KEYS.values())
        | set(domain.HINT_KEYS.values())
    )
    missing = sorted((_template_keys() | dynamic) - set(SV))
    assert not missing, missing


def test_no_inline_script_or_style_and_a_small_page_budget() -> None:
    assert "unsafe-inline" not in CSP and "script-src 'self'" in CSP
    for template in (PACKAGE / "templates").glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=", text), template.name
    static = [p for p in (PACKAGE / "static").iterdir() if p.suffix in (".js", ".css")]
    assert sum(p.stat().st_size for p in static) < 100_000


def test_an_attachment_is_judged_by_its_bytes_and_refused_in_plain_words() -> None:
    jpeg, pdf = b"\xff\xd8\xff\xe0" + b"x" * 100, b"%PDF-1.7\n" + b"x" * 100
    assert domain.attachment_problem(jpeg) is None and domain.attachment_problem(pdf) is None
    assert domain.attachment_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert domain.attachment_problem(b"") == "attach.empty"
    assert domain.attachment_problem(b"GIF89a" + b"x" * 100) == "attach.wrong_type"
    assert domain.attachment_problem(jpeg, max_bytes=50) == "attach.too_large"
    assert domain.refused_attachment_key(413) == "attach.too_large"
    assert domain.refused_attachment_key(415) == "attach.wrong_type"
    assert domain.refused_attachment_key(422) == "attach.failed"
    for key in ("attach.empty", "attach.too_large", "attach.wrong_type", "attach.failed"):
        assert SV[key] and EN[key] and SV[key] != EN[key]
    assert domain.is_attachment_digest("a" * 64)
    assert not domain.is_attachment_digest("../" + "a" * 61)
    assert not domain.is_attachment_digest("A" * 64)


def test_read_receipts_count_the_other_sides_reading() -> None:
    receipts = [
        {"reader_role": "patient", "up_to_sequence": 7},
        {"reader_role": "staff", "up_to_sequence": 4},
        {"reader_role": "staff", "up_to_sequence": 5},
        {"reader_role": "guardian", "up_to_sequence": 9},
    ]
    assert domain.read_by_other(receipts, "patient") == 5
    assert domain.read_by_other(receipts, "staff") == 9
    assert domain.read_by_other([], "staff") == 0


def test_a_waiting_room_asks_chat_only_once_queue_says_the_turn_came() -> None:
    assert not domain.turn_reached(None)  # queue has not seen the case yet
    for status in ("not_queued", "waiting", "withdrawn"):
        assert not domain.turn_reached({"status": status, "position": 3})
    assert domain.turn_reached({"status": "in_contact", "position": None})


def test_the_page_may_only_send_video_signalling_up_to_chat() -> None:
    relay = video_relay.Relay()
    offer = {"type": "signal", "kind": "offer", "data": {"type": "offer", "sdp": "v=0"}}
    for refused in (
        "not json",
        json.dumps({"type": "send", "text": "hej"}),
        json.dumps({"type": "video_start"}),
        json.dumps({**offer, "kind": "bye"}),
        json.dumps({**offer, "data": "v=0"}),
        json.dumps({**offer, "data": {"sdp": "x" * 40_000}}),
    ):
        relay.from_page(refused)
    assert relay.outbox.empty()
    relay.from_page(json.dumps({**offer, "token": "sneaked"}))
    assert relay.outbox.get_nowait() == {k: offer[k] for k in ("type", "kind", "data")}
    hello = {"type": "hello", "video_contact_id": None, "video_participant": True}
    assert video_relay.for_page(hello) == {
        "type": "video",
        "running": False,
        "participant": True,
        "ice_servers": [],
    }
    assert video_relay.for_page({"type": "message", "text": "hej"}) is None
    assert video_relay.for_page({"type": "receipt", "up_to": 3}) is None


@pytest.mark.performance
def test_the_worklist_counts_every_case_near_the_limit_beside_the_few_it_names() -> None:
    from careflow.web.service import near_limit_summary

    named = [{"case_id": "c"}] * 20
    queues = [
        {
            "near_guarantee_limit": named,
            "near_guarantee_limit_count": 120,
            "near_limit_scanned": 200,
        },
        {
            "near_guarantee_limit": named[:3],
            "near_guarantee_limit_count": 3,
            "near_limit_scanned": 200,
        },
    ]
    assert near_limit_summary(queues) == {"near_total": 123, "near_at_least": False}
    queues[0]["near_guarantee_limit_count"] = 200  # every scanned case near: a floor
    assert near_limit_summary(queues) == {"near_total": 203, "near_at_least": True}
    # A queue service without the counts: what it names is all there is.
    assert near_limit_summary([{"near_guarantee_limit": named[:2]}]) == {
        "near_total": 2,
        "near_at_least": False,
    }
    shown = translator("sv")("staff.near_shown_at_least", shown=23, n=203)
    assert "23" in shown and "minst 203" in shown
