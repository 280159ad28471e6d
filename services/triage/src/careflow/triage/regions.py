"""Where a patient may seek care: their own region, or another whose service allows it.

Pure: the rules arrive parsed from ``region_choice.toml``; the choice is decided here and
enforced when a case is opened (the case's region is the one its queue, staff and journal
belong to).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from careflow.kit.domain import Forbidden, Invalid
from careflow.triage.messages import said


@dataclass(frozen=True)
class RegionChoice:
    """Each region's rule: does its service take patients who live in another region?"""

    #: casefolded name -> (the name as written, takes patients from other regions)
    rules: Mapping[str, tuple[str, bool]]

    def names(self) -> list[str]:
        """Every region, by name."""
        return sorted(name for name, _ in self.rules.values())

    def open_to_others(self, region: str) -> bool:
        """Whether ``region``'s service takes patients registered in another region."""
        found = self.rules.get(region.casefold())
        return found is not None and found[1]

    def decide(self, home: str, chosen: str | None) -> str:
        """The case's region: ``home`` unless the patient chose another that allows it."""
        if chosen is None or chosen.casefold() == home.casefold():
            return home
        found = self.rules.get(chosen.casefold())
        if found is None:
            raise Invalid(f"no region called {chosen!r}", said("unknown_region", region=chosen))
        name, open_to_others = found
        if not open_to_others:
            raise Forbidden(
                f"{name} takes only patients who live in the region; seek care in {home}",
                said("region_closed", region=name, home=home),
            )
        return name


def region_choice_from_config(config: Mapping[str, object]) -> RegionChoice:
    """The rules from the parsed file: ``[default]`` and ``[regions.<name>]``, each with
    ``patients_from_other_regions`` (true or false)."""
    default_table = config.get("default", {})
    default = _flag("default", default_table if isinstance(default_table, Mapping) else {}, False)
    rules: dict[str, tuple[str, bool]] = {}
    regions = config.get("regions", {})
    if isinstance(regions, Mapping):
        for name, body in regions.items():
            table = body if isinstance(body, Mapping) else {}
            rules[str(name).casefold()] = (str(name), _flag(str(name), table, default))
    return RegionChoice(rules)


def _flag(name: str, table: Mapping[str, object], default: bool) -> bool:
    value = table.get("patients_from_other_regions", default)
    if not isinstance(value, bool):
        raise Invalid(f"{name}: patients_from_other_regions must be true or false")
    return value
