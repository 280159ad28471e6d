"""Plain Swedish, measured: the readability index LIX (läsbarhetsindex).

LIX = words / sentences + 100 * long words / words, where a long word has more than six
letters. Below 30 reads very easily, 30-40 easily (everyday texts, the aim for patients),
40-50 like ordinary news, above 50 is hard. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The aim for every patient-facing Swedish text, and the limit lint enforces.
LIX_AIM = 40.0
LIX_LIMIT = 50.0
#: LIX measures running text: a label of a few words ("Urinvägsbesvär" alone scores 101)
#: says nothing of how a text reads, so shorter texts are measured but never judged.
MIN_WORDS_JUDGED = 5

_WORD = re.compile(r"[^\W\d_]+(?:[-'\u2019][^\W\d_]+)*")
_SENTENCE_END = re.compile(r"[.!?:;]+(?=\s|$)")


@dataclass(frozen=True)
class Lix:
    """A text's readability: its LIX and the counts it comes from."""

    words: int
    sentences: int
    long_words: int

    @property
    def value(self) -> float:
        """The index (0 for a text without words)."""
        if not self.words:
            return 0.0
        return self.words / self.sentences + 100 * self.long_words / self.words

    @property
    def judged(self) -> bool:
        """Whether the text is long enough for its LIX to mean anything."""
        return self.words >= MIN_WORDS_JUDGED


def lix(text: str) -> Lix:
    """The LIX of a Swedish text; a text without a full stop is one sentence."""
    words = _WORD.findall(text)
    # Count the sentences that hold words: a trailing full stop does not add an empty one.
    parts = [p for p in _SENTENCE_END.split(text) if _WORD.search(p)]
    long_words = sum(1 for w in words if sum(ch.isalpha() for ch in w) > 6)
    return Lix(words=len(words), sentences=max(1, len(parts)), long_words=long_words)
