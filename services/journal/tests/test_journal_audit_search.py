"""What an auditor's search needs: a criterion, a well-formed number, the auditor's role;
and what the access log records of it (the kinds of criteria, never the number)."""

from __future__ import annotations

from datetime import date

import pytest

from careflow.journal import domain
from careflow.kit.domain import Forbidden, Invalid

pytestmark = [pytest.mark.journal, pytest.mark.web, pytest.mark.unit]


def test_a_search_needs_a_criterion_and_a_well_formed_number() -> None:
    with pytest.raises(Invalid):
        domain.search_of(None, "  ", None)
    for bad in ("19801113901", "1980111390144", "19801113901x"):
        with pytest.raises(Invalid):
            domain.search_of(bad, None, None)
    found = domain.search_of("19801113-9014", None, None)
    assert found.pin == "198011139014" and found.professional is None


def test_the_access_log_names_the_kinds_of_criteria_not_the_values() -> None:
    search = domain.search_of("198011139014", " Nina ", date(2026, 11, 26))
    assert search.professional == "Nina"
    assert search.criteria == "search by identity_number, professional, date"
    assert "198011139014" not in search.criteria


def test_only_auditors_search() -> None:
    domain.require_auditor("auditor")
    for role in ("staff", "patient"):
        with pytest.raises(Forbidden):
            domain.require_auditor(role)
