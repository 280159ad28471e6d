"""The monthly sample check's rules: the same seed draws the same sample, the search needs
a criterion, the CSV carries a conclusion column and no spreadsheet formulas."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest

from careflow.journal.domain import sampling
from careflow.kit.domain import Invalid

pytestmark = [pytest.mark.journal, pytest.mark.journey, pytest.mark.unit]

NOVEMBER = sampling.month_of("2026-11")


def test_the_same_seed_draws_the_same_sample_whatever_order_the_reads_come_in() -> None:
    reads = list(range(1000, 1400))
    first = sampling.draw(reads, "2026-11 check", "VC Gränby", NOVEMBER, 20)
    again = sampling.draw(list(reversed(reads)), "2026-11 check", "VC Gränby", NOVEMBER, 20)
    assert first == again and len(first) == 20 == len(set(first))
    assert set(first) <= set(reads) and first == sorted(first)
    # Another seed, unit or month draws another sample (with 400 reads, not by chance alike).
    assert sampling.draw(reads, "other seed", "VC Gränby", NOVEMBER, 20) != first
    assert sampling.draw(reads, "2026-11 check", "VC Luthagen", NOVEMBER, 20) != first
    december = sampling.month_of("2026-12")
    assert sampling.draw(reads, "2026-11 check", "VC Gränby", december, 20) != first
    # Fewer reads than asked for: all of them.
    assert sampling.draw([3, 1, 2], "s", "u", NOVEMBER, 20) == [1, 2, 3]
    assert sampling.draw([], "s", "u", NOVEMBER, 20) == []


def test_months_and_requests_are_checked() -> None:
    assert (NOVEMBER.first, NOVEMBER.end) == (date(2026, 11, 1), date(2026, 12, 1))
    assert sampling.month_of("2026-12").end == date(2027, 1, 1)
    for bad in ("2026-13", "november", "2026"):
        with pytest.raises(Invalid):
            sampling.month_of(bad)
    for unit, seed, size in (("", "s", 5), ("u", " ", 5), ("u", "s", 0), ("u", "s", 201)):
        with pytest.raises(Invalid):
            sampling.check_sample_request(unit, seed, size)
    with pytest.raises(Invalid):
        sampling.check_conclusion("   ")


def test_an_access_search_needs_a_criterion_and_names_only_their_kinds() -> None:
    with pytest.raises(Invalid):
        sampling.access_search_of(None, " ", None, None, None)
    with pytest.raises(Invalid):
        sampling.access_search_of(None, "x", None, date(2026, 11, 2), date(2026, 11, 1))
    search = sampling.access_search_of("19801113-9014", None, "VC", None, date(2026, 11, 1))
    assert search.pin == "198011139014"
    assert search.criteria == "access log search by identity_number, care_unit, period"


def test_the_report_has_a_conclusion_column_and_no_formulas() -> None:
    at = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    read = {"id": 7, "at": at, "reader_id": "SE-1", "reader_name": "=HYPERLINK()", "case_id": "c"}
    concluded = sampling.latest_conclusions(
        [
            {"access_id": 7, "conclusion": "first", "reviewer_id": "a", "recorded_at": at},
            {"access_id": 7, "conclusion": "justified", "reviewer_id": "b", "recorded_at": at},
        ]
    )
    rows = list(csv.DictReader(io.StringIO(sampling.report_csv([read], concluded))))
    assert rows[0]["access_id"] == "7" and rows[0]["conclusion"] == "justified"
    assert rows[0]["concluded_by"] == "b" and rows[0]["reader_name"] == "'=HYPERLINK()"
    empty = list(csv.DictReader(io.StringIO(sampling.report_csv([read], {}))))
    assert empty[0]["conclusion"] == ""
