"""Every text of the pages in six languages (message catalogs) and the lookup.

Each language's catalog is its own data file, ``catalogs/<language>.toml``: Swedish first,
English second, then Arabic and Persian (right to left), Somali and Finnish. Every
patient-facing text exists in all six (the unit tests check it); texts only care staff
and auditors read may stay Swedish and English. Texts other than Swedish and English are
sample translations until reviewed by people, as the questionnaires are.

A module of this package named ``i18n_<something>`` with dicts named after languages
(``SV``, ``EN``, and ``AR``, ``SO``, ``FA``, ``FI`` where it has them) is merged into the
catalogs as well, so a feature can keep its texts beside it. A text missing in a language
falls back to English, then Swedish; a missing key shows the key.
"""

from __future__ import annotations

import importlib
import pkgutil
import tomllib
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from types import ModuleType
from typing import Any

from careflow.kit.i18n import LANGUAGES, RTL, negotiate

__all__ = [
    "CATALOGS",
    "EN",
    "LANGUAGES",
    "NATIVE_NAMES",
    "SV",
    "direction",
    "is_patient_key",
    "merge",
    "preferred",
    "text_modules",
    "translator",
]

#: Texts only care staff and auditors read: Swedish and English are enough for them.
STAFF_ONLY_PREFIXES: tuple[str, ...] = ("staff.", "audit.", "skill.", "testeid.")
STAFF_ONLY_KEYS: frozenset[str] = frozenset(
    {"nav.worklist", "nav.audit", "login.title_staff", "login.intro_staff"}
)

#: The name of each language in itself, for the language switch.
NATIVE_NAMES: Mapping[str, str] = {
    "sv": "Svenska",
    "en": "English",
    "ar": "العربية",
    "so": "Soomaali",
    "fa": "فارسی",
    "fi": "Suomi",
}


def _load(language: str) -> dict[str, str]:
    text = resources.files("careflow.web").joinpath("catalogs", f"{language}.toml").read_text()
    return {str(k): str(v) for k, v in tomllib.loads(text).items()}


def text_modules(package: str = "careflow.web") -> list[ModuleType]:
    """Every ``<package>.i18n_*`` module, found by name (no list to edit when one is added)."""
    found = importlib.import_module(package)
    names = sorted(m.name for m in pkgutil.iter_modules(found.__path__))
    return [
        importlib.import_module(f"{package}.{name}") for name in names if name.startswith("i18n_")
    ]


def merge(catalogs: dict[str, dict[str, str]], modules: Iterable[object]) -> None:
    """Add each module's texts (dicts named ``SV``, ``EN``, ``AR`` ...) to ``catalogs``."""
    for module in modules:
        for language in LANGUAGES:
            texts = getattr(module, language.upper(), None)
            if isinstance(texts, dict):
                catalogs[language].update(texts)


CATALOGS: dict[str, dict[str, str]] = {language: _load(language) for language in LANGUAGES}
merge(CATALOGS, text_modules())
SV: dict[str, str] = CATALOGS["sv"]
EN: dict[str, str] = CATALOGS["en"]
#: The texts of modules that say ``READERS = "staff"``: pages only care staff and auditors see.
STAFF_MODULE_KEYS: frozenset[str] = frozenset(
    key
    for module in text_modules()
    if getattr(module, "READERS", "") == "staff"
    for key in getattr(module, "SV", {})
)


def is_patient_key(key: str) -> bool:
    """Whether a patient (or guardian) may read the text: then it exists in every language."""
    return (
        not key.startswith(STAFF_ONLY_PREFIXES)
        and key not in STAFF_ONLY_KEYS
        and key not in STAFF_MODULE_KEYS
    )


def direction(language: str) -> str:
    """``rtl`` for the languages written right to left, else ``ltr`` (HTML's ``dir``)."""
    return "rtl" if language in RTL else "ltr"


def preferred(chosen: str | None, accept_language: str | None) -> str:
    """The page's language: the visitor's choice, else the first supported language their
    browser asks for (``Accept-Language``), else Swedish."""
    if chosen in LANGUAGES:
        return chosen
    return negotiate(accept_language) or "sv"


def translator(language: str) -> Callable[..., str]:
    """``t(key, **values)`` in ``language``; a missing text in English, then Swedish."""
    catalog = CATALOGS.get(language, SV)

    def t(key: str, **values: Any) -> str:
        text = catalog.get(key) or EN.get(key) or SV.get(key) or key
        return text.format(**values) if values else text

    return t
