"""Search tokens: words for Latin scripts, overlapping character bigrams for CJK.

Chinese (and Japanese and Korean) text has no spaces between words, so a word tokenizer would
see "夏季显瘦连衣裙" as one token and "连衣裙" would never find it. Overlapping bigrams need no
dictionary: the text gives 夏季 季显 显瘦 瘦连 连衣 衣裙, the query "连衣裙" gives 连衣 衣裙 and
"显瘦" gives 显瘦, so every substring of two or more characters shares all of its bigrams with
the text.
A CJK run of one character is kept as that character. Other scripts split into words on anything
that is not a letter or a digit.

Text is NFKC-normalised and case-folded first, so full-width Latin letters and digits match
their ASCII forms. Ranking counts the distinct query tokens a product holds (``score``): the more of
the query it contains, the higher it ranks.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from typing import Final

#: The longest query ``q`` may be (400 above it).
QUERY_MAX: Final = 100
#: Distinct tokens a query is searched by; each is one read of the index, so a long query is cut
#: to its first tokens (a CJK phrase keeps enough bigrams to stay selective).
MAX_QUERY_TOKENS: Final = 12
#: Distinct tokens a product is indexed under: all of its name's and tags', then its
#: description's until this many; each is one item of the index to write.
MAX_PRODUCT_TOKENS: Final = 256
#: A word longer than this is cut (a key stays small; nobody searches by a 64-letter word).
TOKEN_MAX: Final = 64

_CJK_RANGES: Final = (
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x312F),  # Bopomofo
    (0x3130, 0x318F),  # Hangul compatibility Jamo
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x2FA1F),  # CJK extensions B.. and compatibility supplement
)


def is_cjk(ch: str) -> bool:
    """True for a character of a script written without spaces between words."""
    code = ord(ch)
    return any(low <= code <= high for low, high in _CJK_RANGES)


def _is_word_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] in ("L", "N", "M")


def normalise(text: str) -> str:
    """NFKC and case-folded: the form both indexed text and queries are tokenized in."""
    return unicodedata.normalize("NFKC", text).casefold()


def _runs(text: str) -> Iterator[tuple[bool, str]]:
    """Maximal runs of CJK characters (True) and of other word characters (False)."""
    run: list[str] = []
    kind: bool | None = None
    for ch in text:
        this = is_cjk(ch) if _is_word_char(ch) else None
        if this is not kind and run:
            if kind is not None:
                yield kind, "".join(run)
            run = []
        kind = this
        run.append(ch)
    if run and kind is not None:
        yield kind, "".join(run)


def tokens(text: str) -> list[str]:
    """The tokens of ``text`` in order of appearance, repeats included."""
    found: list[str] = []
    for cjk, run in _runs(normalise(text)):
        if not cjk:
            found.append(run[:TOKEN_MAX])
        elif len(run) == 1:
            found.append(run)
        else:
            found.extend(run[i : i + 2] for i in range(len(run) - 1))
    return found


def distinct(items: Iterable[str], limit: int | None = None) -> tuple[str, ...]:
    """``items`` without repeats, in first-seen order, at most ``limit`` of them."""
    seen = tuple(dict.fromkeys(items))
    return seen if limit is None else seen[:limit]


def query_tokens(query: str) -> tuple[str, ...]:
    """What a query ``q`` is searched by: its distinct tokens, the first MAX_QUERY_TOKENS."""
    return distinct(tokens(query), MAX_QUERY_TOKENS)


def product_tokens(name: str, description: str, tags: Iterable[str] = ()) -> tuple[str, ...]:
    """What a product is indexed under: its name's and tags' tokens, then its description's,
    distinct, at most MAX_PRODUCT_TOKENS."""
    head = [t for part in (name, *tags) for t in tokens(part)]
    return distinct([*head, *tokens(description)], MAX_PRODUCT_TOKENS)


def score(query: Iterable[str], held: Iterable[str]) -> int:
    """How many distinct query tokens a product holds: its rank (0 is not a hit)."""
    return len(set(query) & set(held))


def rank(hits: Iterable[tuple[str, int, str]]) -> list[str]:
    """Product ids of ``(product_id, matched, created_at)`` hits, best first: more query
    tokens matched, then newer, then by id (so a ranking never depends on read order)."""
    ordered = sorted(hits, key=lambda h: (-h[1], _descending(h[2]), h[0]))
    return [product_id for product_id, _, _ in ordered]


def _descending(text: str) -> tuple[int, ...]:
    return tuple(-ord(ch) for ch in text)
