"""The languages patients are answered in, and how a request asks for one (pure).

Swedish first, English, and the languages many patients need: Arabic and Persian (written
right to left), Somali, and Finnish (a national minority language). Texts other than
Swedish and English are sample translations until reviewed by people.
"""

from __future__ import annotations

from collections.abc import Mapping

from careflow.kit.readability import LIX_LIMIT, lix

#: Every language a patient-facing text must exist in, Swedish first.
LANGUAGES: tuple[str, ...] = ("sv", "en", "ar", "so", "fa", "fi")
#: The languages written right to left.
RTL: frozenset[str] = frozenset({"ar", "fa"})

#: One text in every language: language code -> text.
Said = Mapping[str, str]


def negotiate(accept_language: str | None, offered: tuple[str, ...] = LANGUAGES) -> str | None:
    """The offered language an ``Accept-Language`` header prefers most, or None.

    ``sv-SE`` matches ``sv``; a language with ``q=0`` is refused; ``*`` takes the first offered.
    """
    if not accept_language:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        base = tag.strip().lower().split("-")[0]
        if weight <= 0:
            continue
        if base == "*":
            ranked.append((weight, position, offered[0]))
        elif base in offered:
            ranked.append((weight, position, base))
    if not ranked:
        return None
    ranked.sort(key=lambda r: (-r[0], r[1]))
    return ranked[0][2]


def say(texts: Said, **values: object) -> dict[str, str]:
    """``texts`` with ``values`` filled in, in every language."""
    return {lang: text.format(**values) for lang, text in texts.items()}


#: Problem details' titles where a patient reads them, per status.
TITLES: Mapping[int, Said] = {
    403: {
        "sv": "Det går inte",
        "en": "Not allowed",
        "ar": "غير مسموح",
        "so": "Lama oggola",
        "fa": "مجاز نیست",
        "fi": "Ei sallittu",
    },
    404: {
        "sv": "Finns inte",
        "en": "Not found",
        "ar": "غير موجود",
        "so": "Lama helin",
        "fa": "پیدا نشد",
        "fi": "Ei löydy",
    },
    409: {
        "sv": "Det gick inte just nu",
        "en": "That did not work just now",
        "ar": "لم ينجح ذلك الآن",
        "so": "Hadda ma shaqeyn",
        "fa": "الان انجام نشد",
        "fi": "Se ei onnistunut nyt",
    },
    422: {
        "sv": "Något blev fel",
        "en": "Something is wrong",
        "ar": "هناك خطأ ما",
        "so": "Wax baa khaldan",
        "fa": "مشکلی پیش آمد",
        "fi": "Jokin meni vikaan",
    },
    429: {
        "sv": "För många försök",
        "en": "Too many attempts",
        "ar": "محاولات كثيرة جدًا",
        "so": "Isku day aad u badan",
        "fa": "تلاش‌های بیش از حد",
        "fi": "Liian monta yritystä",
    },
}


def check_catalog(name: str, catalog: Mapping[str, Said]) -> list[str]:
    """Every problem of a catalog of patient-facing texts: a text missing in a language, or
    a Swedish text that is hard to read (LIX above the limit). Empty when sound."""
    problems: list[str] = []
    for key, texts in catalog.items():
        for lang in LANGUAGES:
            if not (texts.get(lang) or "").strip():
                problems.append(f"{name}: {key}: no text in {lang!r}")
        swedish = lix(texts.get("sv") or "")
        if swedish.judged and swedish.value > LIX_LIMIT:
            problems.append(
                f"{name}: {key}: the Swedish text is hard to read: LIX {swedish.value:.0f} "
                f"(at most {LIX_LIMIT:.0f}; aim for 40)"
            )
    return problems
