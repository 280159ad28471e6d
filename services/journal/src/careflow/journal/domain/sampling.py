"""An auditor's search of the access log and the monthly sample check of it.

The regulations ask for regular, documented sample checks of who read patients' records.
A month's sample for a care unit is drawn from that unit's logged reads with a seed the
auditor chooses and keeps with the report: the same seed over the same month's reads
draws the same sample, so a check can be shown again and repeated by someone else.
Each reviewer's conclusion on a sampled read is recorded, append-only, with who and when.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from careflow.journal.domain.audit import identity_number, named_by
from careflow.kit.domain import Invalid

#: The access log's action for reads an auditor's access-log search or sample returned.
ACCESS_SEARCH_ACTION = "audit_access_search"
#: At most this many reads per search: narrow it down rather than page through a region.
ACCESS_SEARCH_LIMIT = 500
#: A sample never holds more reads than this.
MAX_SAMPLE = 200
#: The report's columns, the reviewer's conclusion last (empty until one is recorded).
COLUMNS = (
    "access_id",
    "at",
    "reader_id",
    "reader_name",
    "reader_title",
    "reader_role",
    "care_unit",
    "case_id",
    "action",
    "purpose",
    "basis",
    "emergency",
    "conclusion",
    "concluded_by",
    "concluded_at",
)


@dataclass(frozen=True)
class AccessSearch:
    """Which reads an auditor looks for: any of a patient, a reader, a care unit, a period."""

    pin: str | None
    reader: str | None
    care_unit: str | None
    since: date | None
    until: date | None

    @property
    def criteria(self) -> str:
        """The kinds of criteria used (never the values), for the access log and the logs."""
        return named_by(
            "access log search",
            (
                ("identity_number", self.pin),
                ("reader", self.reader),
                ("care_unit", self.care_unit),
                ("period", self.since or self.until),
            ),
        )


def access_search_of(
    pin: str | None,
    reader: str | None,
    care_unit: str | None,
    since: date | None,
    until: date | None,
) -> AccessSearch:
    """A search with at least one criterion; a period's start is not after its end."""
    number = identity_number(pin)
    who = reader.strip() if reader else None
    unit = care_unit.strip() if care_unit else None
    if since is not None and until is not None and since > until:
        raise Invalid("the period starts after it ends")
    if not (number or who or unit or since or until):
        raise Invalid("search by identity number, reader, care unit or period")
    return AccessSearch(number, who or None, unit or None, since, until)


@dataclass(frozen=True)
class Month:
    """A calendar month (Europe/Stockholm days), as ``YYYY-MM``."""

    first: date

    @property
    def end(self) -> date:
        """The first day of the next month."""
        y, m = self.first.year, self.first.month
        return date(y + (m == 12), m % 12 + 1, 1)

    def __str__(self) -> str:
        return f"{self.first.year:04d}-{self.first.month:02d}"


def month_of(text: str) -> Month:
    """``YYYY-MM`` as a month; ``Invalid`` otherwise."""
    try:
        year, month = (int(p) for p in text.split("-"))
        return Month(date(year, month, 1))
    except (ValueError, TypeError):
        raise Invalid("a month is written YYYY-MM") from None


def check_sample_request(care_unit: str, seed: str, size: int) -> None:
    """A sample names its care unit and seed and holds 1 to ``MAX_SAMPLE`` reads."""
    if not care_unit.strip():
        raise Invalid("name the care unit to sample")
    if not seed.strip():
        raise Invalid("give the sample a seed (kept with the report)")
    if not 1 <= size <= MAX_SAMPLE:
        raise Invalid(f"a sample holds 1 to {MAX_SAMPLE} reads")


def draw(
    access_ids: Iterable[int], seed: str, care_unit: str, month: Month, size: int
) -> list[int]:
    """The sample: ``size`` of the reads (all when fewer), the same for the same seed, unit,
    month and reads, in log order. The reads are sorted first, so the order they were
    fetched in does not change the draw."""
    population = sorted(set(access_ids))
    chooser = random.Random(f"{seed}\x1f{care_unit}\x1f{month}")
    return sorted(chooser.sample(population, min(size, len(population))))


def check_conclusion(text: str) -> str:
    """A reviewer's conclusion: plain text, not empty, at most 2000 characters."""
    conclusion = text.strip()
    if not conclusion:
        raise Invalid("write the conclusion")
    if len(conclusion) > 2000:
        raise Invalid("a conclusion is at most 2000 characters")
    return conclusion


def latest_conclusions(rows: Sequence[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    """Each sampled read's latest conclusion (rows oldest first; later ones supersede)."""
    return {int(r["access_id"]): r for r in rows}


def report_csv(
    accesses: Sequence[Mapping[str, Any]], concluded: Mapping[int, Mapping[str, Any]]
) -> str:
    """The sample as CSV, one read a row, with the latest conclusion on it (empty if none)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for a in accesses:
        c = concluded.get(int(a["id"]))
        row = {
            **{k: a.get(k) for k in COLUMNS},
            "access_id": a["id"],
            "at": a["at"].isoformat() if a.get("at") is not None else "",
            "conclusion": c["conclusion"] if c else "",
            "concluded_by": c["reviewer_id"] if c else "",
            "concluded_at": c["recorded_at"].isoformat() if c else "",
        }
        writer.writerow(["" if row[k] is None else _cell(row[k]) for k in COLUMNS])
    return out.getvalue()


def _cell(value: Any) -> str:
    """A cell a spreadsheet shows as text: no formula from a logged purpose or name."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
