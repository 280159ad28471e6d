"""The records pages' rules without a server (issue 18): what an access-log search needs,
how the sample's CSV is read, and that every complaint kind and every logging service has
a text in both languages."""

from __future__ import annotations

from typing import get_args

import pytest

from careflow.contracts.chat_events import ComplaintCategory
from careflow.kit.domain import Invalid
from careflow.web.i18n import EN, SV
from careflow.web.records import LOGGING_SERVICES, ReadSearch, sample_rows

pytestmark = [pytest.mark.web, pytest.mark.journey, pytest.mark.unit]


def test_a_read_search_needs_a_criterion_and_sends_only_what_was_given() -> None:
    with pytest.raises(Invalid):
        ReadSearch()
    with pytest.raises(Invalid):
        ReadSearch(pin=" ", reader="  ")
    wanted = ReadSearch(pin="19801113-9014", reader=" Sjöberg ", since="2026-11-01")
    assert wanted.number == "198011139014"
    # The identity number goes to the journal alone, never to the other services.
    assert wanted.common() == {"reader": "Sjöberg", "since": "2026-11-01"}
    assert ReadSearch(until="2026-11-30").common() == {"until": "2026-11-30"}


def test_the_samples_csv_is_read_by_its_header() -> None:
    text = (
        "access_id,at,reader_id,conclusion\r\n"
        "7,2026-11-02T10:00:00+00:00,SE1,\r\n"
        '9,2026-11-03T10:00:00+00:00,SE2,"Ok, vårdrelation"\r\n'
    )
    rows = sample_rows(text)
    assert [r["access_id"] for r in rows] == ["7", "9"]
    assert rows[1]["conclusion"] == "Ok, vårdrelation" and rows[0]["conclusion"] == ""
    assert sample_rows("access_id,at\r\n") == []


def test_every_complaint_kind_and_logging_service_is_named_in_both_languages() -> None:
    keys = {f"complaint_kind.{c}" for c in get_args(ComplaintCategory)}
    keys |= {f"service.{s}" for s in ("journal", *LOGGING_SERVICES)}
    assert keys <= set(SV) and keys <= set(EN)
