"""Blocked words, matched on what a reader sees rather than on the code points typed.

Text and blocked words are folded the same way before matching:
- Unicode NFKC (fullwidth `ｓｌｕｒ`, ligatures, superscripts become plain letters);
- invisible format characters (zero-width space and joiners, soft hyphen, direction marks)
  are dropped, and so are combining marks (`s̶l̶u̶r̶`, `slúr`);
- letters that look Latin in other scripts (Cyrillic `а е о р с у х і ѕ`, Greek `ο α ν`…)
  become the Latin letter;
- case is folded, and any run of characters that are not letters or digits (spaces,
  newlines, `_`, `-`, punctuation) becomes one space.
A blocked word or phrase then matches as whole words: `gore` blocks `Gore, metal`,
`gore_beat` and `gore-core`, not `gorey`; `bad word` blocks `BAD\n word`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from bot.errors import Refusal

# Lower-case look-alikes of Latin letters in Cyrillic, Greek and other scripts (after
# case folding), from Unicode's confusables list: the ones a keyboard makes easy.
CONFUSABLES = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
        "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j",
        "ѕ": "s", "ԁ": "d", "һ": "h", "ӏ": "l", "ԛ": "q", "ԝ": "w", "ɡ": "g", "ı": "i",
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ℓ": "l",
    }
)  # fmt: skip


def fold(text: str) -> str:
    """`text` as the matcher compares it (see the module's docstring)."""
    text = unicodedata.normalize("NFKC", text)
    text = unicodedata.normalize("NFD", text.casefold())
    kept = "".join(char for char in text if unicodedata.category(char) not in ("Cf", "Mn", "Me"))
    kept = kept.translate(CONFUSABLES)
    spaced = "".join(char if char.isalnum() else " " for char in kept)
    return " ".join(spaced.split())


def blocked_in(words: Iterable[str], *texts: str | None) -> str | None:
    """The first of `words` (as the moderators wrote it) found in any of `texts`."""
    folded = [f" {fold(text)} " for text in texts if text]
    for word in words:
        needle = fold(word)
        if needle and any(f" {needle} " in text for text in folded):
            return word
    return None


def refuse_blocked(
    words: Iterable[str], fields: Iterable[tuple[str, str | None]], outcome: str
) -> None:
    """Refuse the first field holding a blocked word: ("tags contain", text) pairs, and
    what did not happen (`outcome`)."""
    words = tuple(words)
    for what, text in fields:
        word = blocked_in(words, text)
        if word is not None:
            raise Refusal(f"Your {what} “{word}”, which this server does not allow. {outcome}")
