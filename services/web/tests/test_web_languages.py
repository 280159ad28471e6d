"""Every patient-facing text of the web in six languages, plain Swedish, the page's language
and direction, and how feature modules' texts merge and fall back (pure)."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from careflow.contracts.vocabulary import Urgency
from careflow.kit.i18n import LANGUAGES, check_catalog
from careflow.web import domain, i18n
from careflow.web.http.patient import RETRIAGE_REFUSALS
from careflow.web.http.staff import OUTCOMES

pytestmark = [pytest.mark.web, pytest.mark.journey, pytest.mark.unit]

PACKAGE = Path(domain.__file__).parent
#: Pages only care staff, auditors or developers see; every other template is a patient's.
NOT_PATIENT = re.compile(r"^(staff_|audit_|test_eid)")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _patient_templates() -> list[Path]:
    found = sorted(p for p in (PACKAGE / "templates").glob("*.html"))
    return [p for p in found if not NOT_PATIENT.match(p.name)]


def _patient_template_keys() -> set[str]:
    keys: set[str] = set()
    for template in _patient_templates():
        keys |= set(re.findall(r"""t\(["']([a-z_0-9.]+)["'](?=\s*[,)])""", template.read_text()))
    return keys


def _dynamic_patient_keys() -> set[str]:
    """Keys a patient page builds from data (``"closing." ~ outcome`` and the like)."""
    return (
        {f"closing.{o}" for o in (*OUTCOMES, "withdrawn")}
        | {f"title.{t}" for t in ("nurse", "doctor", "psychologist", "administrator")}
        | {f"rating.n{n}" for n in range(1, 6)}
        | {f"urgency.{u.value}" for u in Urgency}
        | {f"complaint.category_{c}" for c in domain.COMPLAINT_CATEGORIES}
        | {f"retriage.{r}" for r in RETRIAGE_REFUSALS}
        | set(domain.RECOMMENDATION_KEYS.values())
        | {f"recommendation.{r}" for r in domain.RECOMMENDATION_KEYS}
        | set(domain.REFUSAL_KEYS.values())
        | set(domain.HINT_KEYS.values())
        | {"refused.other", "login.title_patient", "login.intro_patient"}
        | {k for k in i18n.SV if k.startswith(("problem.", "attach.", "notify.", "video."))}
    )


def test_every_key_of_a_patient_page_exists_in_all_six_languages() -> None:
    # base.html also holds the staff's and auditor's menu links, shown only to them.
    scanned = {k for k in _patient_template_keys() if i18n.is_patient_key(k)}
    keys = scanned | _dynamic_patient_keys()
    assert len(scanned) > 100  # the scan found the pages' texts, not nothing
    missing = sorted(
        f"{lang}: {key}"
        for key in keys
        for lang in LANGUAGES
        if not (i18n.CATALOGS[lang].get(key) or "").strip()
    )
    assert not missing, missing


def test_every_patient_text_is_in_six_languages_with_the_same_placeholders() -> None:
    patient = {k for k in i18n.SV if i18n.is_patient_key(k)}
    for lang in LANGUAGES:
        catalog = i18n.CATALOGS[lang]
        assert patient <= set(catalog), (lang, sorted(patient - set(catalog)))
        for key in patient:
            wanted = set(PLACEHOLDER.findall(i18n.SV[key]))
            assert set(PLACEHOLDER.findall(catalog[key])) == wanted, (lang, key)
    # Arabic and Persian texts are in their own scripts, not English left in place.
    for lang, script in (("ar", "\u0600-\u06ff"), ("fa", "\u0600-\u06ff")):
        assert re.search(f"[{script}]", i18n.CATALOGS[lang]["start.title"]), lang
    assert len({i18n.CATALOGS[lang]["case.title"] for lang in LANGUAGES}) == len(LANGUAGES)


def test_swedish_patient_texts_read_plainly_lix_at_most_50() -> None:
    catalog = {
        key: {lang: i18n.CATALOGS[lang][key] for lang in LANGUAGES}
        for key in i18n.SV
        if i18n.is_patient_key(key)
    }
    assert not check_catalog("web", catalog)


def test_staff_texts_fall_back_to_english_then_swedish() -> None:
    staff_key = "staff.worklist"
    assert not i18n.is_patient_key(staff_key)
    assert staff_key not in i18n.CATALOGS["fa"]
    assert i18n.translator("fa")(staff_key) == i18n.EN[staff_key]
    assert i18n.translator("ar")("no.such.key") == "no.such.key"


def test_a_feature_module_with_swedish_and_english_merges_and_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "fakeweb"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "i18n_records.py").write_text(
        'SV = {"records.title": "Journalen"}\nEN = {"records.title": "The record"}\n'
    )
    (package / "not_texts.py").write_text('SV = {"records.title": "fel"}\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    found = i18n.text_modules("fakeweb")
    assert [m.__name__ for m in found] == ["fakeweb.i18n_records"]
    catalogs: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    i18n.merge(catalogs, [*found, types.SimpleNamespace(FI={"records.title": "Potilaskertomus"})])
    assert catalogs["sv"]["records.title"] == "Journalen"
    assert catalogs["en"]["records.title"] == "The record"
    assert catalogs["fi"]["records.title"] == "Potilaskertomus"
    assert "records.title" not in catalogs["so"]
    sys.modules.pop("fakeweb.i18n_records", None)
    sys.modules.pop("fakeweb", None)


def test_the_page_language_is_the_choice_else_the_browsers_else_swedish() -> None:
    assert i18n.preferred("fi", "ar,en;q=0.5") == "fi"
    assert i18n.preferred(None, "de-DE,fa;q=0.9,en;q=0.8") == "fa"
    assert i18n.preferred(None, "so-SO") == "so"
    assert i18n.preferred("xx", "de, fr;q=0.5") == "sv"
    assert i18n.preferred(None, None) == "sv"
    assert [i18n.direction(lang) for lang in LANGUAGES] == [
        "ltr",
        "ltr",
        "rtl",
        "ltr",
        "rtl",
        "ltr",
    ]
    assert set(i18n.NATIVE_NAMES) == set(LANGUAGES)
    assert domain.LANGUAGES == LANGUAGES
    assert [domain.language(lang) for lang in ("ar", "fi", "de", None)] == ["ar", "fi", "sv", "sv"]


def test_translations_are_marked_as_sample_content() -> None:
    for lang in LANGUAGES[2:]:
        head = (PACKAGE / "catalogs" / f"{lang}.toml").read_text()[:600]
        assert "SAMPLE CONTENT" in head and "reviewed by people" in head, lang
        assert i18n.CATALOGS[lang]["site.sample_translation"] != i18n.EN["site.sample_translation"]
    base = (PACKAGE / "templates" / "base.html").read_text()
    assert 'dir="{{ dir }}"' in base and "site.sample_translation" in base
