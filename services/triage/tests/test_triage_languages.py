"""Plain language in every language: lint demands every text in Swedish, English, Arabic,
Somali, Persian and Finnish, and measures every Swedish text's readability (LIX)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from careflow.cli.main import app as cli
from careflow.kit.readability import LIX_AIM, LIX_LIMIT, lix
from careflow.triage.lint import lint_directory, swedish_texts
from careflow.triage.questionnaire import DEFAULT_DIRECTORY, REQUIRED_LANGUAGES

pytestmark = [pytest.mark.triage, pytest.mark.journey, pytest.mark.unit]

LANGUAGES = ("sv", "en", "ar", "so", "fa", "fi")


def fever() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEFAULT_DIRECTORY / "fever.yaml").read_text())
    return loaded


def lint_one(tmp_path: Path, document: dict[str, Any]) -> tuple[int, str]:
    (tmp_path / "fever.yaml").write_text(yaml.safe_dump(document, allow_unicode=True))
    result = CliRunner().invoke(cli, ["triage", "lint", str(tmp_path)])
    return result.exit_code, result.output


def test_lint_passes_every_questionnaire_in_all_six_languages() -> None:
    assert tuple(REQUIRED_LANGUAGES) == LANGUAGES
    sound, problems = lint_directory()
    assert [str(p) for p in problems] == [] and len(sound) == 13
    for q in sound:
        assert set(LANGUAGES) <= set(q.languages), q.id
        assert q.sample_content, q.id  # translations too are sample content until reviewed
        for where, text in swedish_texts(q):
            measured = lix(text)
            assert not measured.judged or measured.value <= LIX_LIMIT, (q.id, where, text)
    result = CliRunner().invoke(cli, ["triage", "lint"])
    assert result.exit_code == 0, result.output
    assert "6 languages, highest LIX" in result.output


def test_a_text_missing_in_one_language_fails_lint(tmp_path: Path) -> None:
    document = fever()
    del document["questions"]["spots"]["text"]["so"]
    code, output = lint_one(tmp_path, document)
    assert code == 1
    assert "questions.spots.text: no text in 'so'" in output
    # A questionnaire that drops a language altogether fails too.
    document = fever()
    document["languages"] = ["sv", "en", "ar", "so", "fa"]
    code, output = lint_one(tmp_path, document)
    assert code == 1 and "languages: must include 'fi'" in output


def test_a_long_swedish_sentence_fails_lix(tmp_path: Path) -> None:
    hard = (
        "Vid kvarstående feberproblematik rekommenderas kontinuerlig vätskeadministrering "
        "samt regelbunden temperaturkontroll i avvaktan på ytterligare medicinsk bedömning "
        "av behandlande vårdpersonal inom primärvårdsorganisationen."
    )
    assert lix(hard).value > LIX_LIMIT
    document = fever()
    document["outcomes"]["self_care"]["advice"]["sv"] = hard
    code, output = lint_one(tmp_path, document)
    assert code == 1
    assert "outcomes.self_care.advice: the Swedish text is hard to read: LIX" in output
    # The plain version the questionnaire ships passes, below the aim.
    plain = fever()["outcomes"]["self_care"]["advice"]["sv"]
    assert lix(plain).value <= LIX_AIM


def test_lix_counts_words_sentences_and_long_words() -> None:
    measured = lix("Ring 112 nu. Du kan vila hemma och dricka mycket vatten.")
    # 10 words (numbers are not words), 2 sentences, no word over six letters.
    assert (measured.words, measured.sentences, measured.long_words) == (10, 2, 0)
    assert measured.value == pytest.approx(5.0)
    assert lix("Sjukvårdsrådgivning").value == pytest.approx(101.0)
    assert not lix("Sjukvårdsrådgivning").judged  # a label is measured, never judged


def test_every_triage_message_exists_in_every_language_and_reads_plainly() -> None:
    from careflow.kit.i18n import LANGUAGES, check_catalog
    from careflow.triage.messages import MESSAGES

    assert check_catalog("triage", MESSAGES) == []
    broken = {key: dict(texts) for key, texts in MESSAGES.items()}
    del broken["under_one"]["fa"]
    broken["no_triage"]["sv"] = (
        "Eftersom ingen pågående triagering föreligger rekommenderas initiering av "
        "en fullständigt ny bedömningsprocess omedelbart."
    )
    found = check_catalog("triage", broken)
    assert "triage: under_one: no text in 'fa'" in found
    assert any(p.startswith("triage: no_triage: the Swedish text is hard to read") for p in found)
    assert LANGUAGES == ("sv", "en", "ar", "so", "fa", "fi")
