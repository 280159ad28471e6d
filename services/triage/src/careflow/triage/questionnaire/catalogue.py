"""The questionnaires a running service offers, by id and version."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from careflow.triage.questionnaire.model import Questionnaire


def catalogue_key(questionnaire: Questionnaire) -> tuple[str, str]:
    """How a catalogue keys one version of a questionnaire."""
    return (questionnaire.id, questionnaire.version)


@dataclass(frozen=True)
class Catalogue:
    """The questionnaires the service offers, by id (newest version) and by (id, version)."""

    by_id: Mapping[str, Questionnaire]
    by_version: Mapping[tuple[str, str], Questionnaire] = field(default_factory=dict)

    def get(self, questionnaire_id: str, version: str | None = None) -> Questionnaire | None:
        """The current version of a questionnaire, or the named one; None if not offered."""
        if version is None:
            return self.by_id.get(questionnaire_id)
        return self.by_version.get((questionnaire_id, version))


def catalogue_of(questionnaires: Iterable[Questionnaire]) -> Catalogue:
    """A catalogue; each id's highest version (compared numerically) is the current one."""

    def version_key(q: Questionnaire) -> tuple[tuple[int, str], ...]:
        return tuple((int(p), "") if p.isdigit() else (-1, p) for p in q.version.split("."))

    ordered = sorted(questionnaires, key=lambda q: (q.id, version_key(q)))
    by_id = {q.id: q for q in ordered}
    return Catalogue(by_id, {catalogue_key(q): q for q in ordered})
