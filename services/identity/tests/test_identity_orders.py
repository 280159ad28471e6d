"""The rules of an e-ID order's life, whichever replica takes the step (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from careflow.identity.domain import orders
from careflow.identity.domain.orders import Order, OrderStatus
from careflow.kit.domain import Conflict, NotFound

pytestmark = [pytest.mark.identity, pytest.mark.unit]

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PIN = "197207099636"


def order(**changes: object) -> Order:
    base = Order(
        order_ref="ab" * 16,
        realm="patient",
        secret_hash=b"h" * 32,
        auto_start_token="start",
        qr_start_token="qr",
        qr_start_secret="secret",
        started_at=T0,
        expires_at=T0 + timedelta(seconds=180),
        forget_at=T0 + timedelta(seconds=240),
        oidc_state="state-1",
    )
    return Order(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def test_an_unanswered_order_fails_at_its_time_and_is_then_forgotten() -> None:
    assert orders.known(order(), T0 + timedelta(seconds=180)).status is OrderStatus.PENDING
    late = orders.known(order(), T0 + timedelta(seconds=181))
    assert (late.status, late.hint_code) == (OrderStatus.FAILED, "expiredTransaction")
    with pytest.raises(NotFound):
        orders.known(order(), T0 + timedelta(seconds=240))
    with pytest.raises(NotFound):
        orders.known(None, T0)


def test_a_completed_order_is_collected_once_and_the_number_not_kept() -> None:
    done = orders.approve(order(), PIN)
    after, collected = orders.collect(done)
    assert collected.personal_identity_number == PIN and collected.status is OrderStatus.COMPLETE
    assert after.collected and after.completed_pin is None
    with pytest.raises(Conflict):
        orders.collect(after)


def test_an_order_for_one_person_cannot_be_approved_by_another() -> None:
    with pytest.raises(Conflict):
        orders.approve(order(expected_pin="191212121212"), PIN)
    with pytest.raises(Conflict):
        orders.approve(orders.cancel(order()), PIN)


def test_an_oidc_state_is_spent_by_its_first_callback() -> None:
    taken = orders.take_callback(order(), "state-1")
    assert taken.oidc_state is None
    with pytest.raises(Conflict):
        orders.take_callback(taken, "state-1")
    with pytest.raises(Conflict):
        orders.take_callback(order(), "another-state")
    refused = orders.complete(taken, None)
    assert (refused.status, refused.hint_code) == (OrderStatus.FAILED, "userCancel")
    with pytest.raises(Conflict):
        orders.complete(refused, PIN)


def test_the_qr_code_changes_every_second_and_any_replica_draws_the_same() -> None:
    first, again = orders.qr_data(order(), T0), orders.qr_data(order(), T0)
    later = orders.qr_data(order(), T0 + timedelta(seconds=1))
    assert first == again != later and first.startswith("bankid.qr.0.")
