"""The search tokenizer: words for Latin scripts, overlapping bigrams for CJK, and ranking."""

from __future__ import annotations

import itertools

import pytest
from commerce.domain.search import (
    MAX_PRODUCT_TOKENS,
    MAX_QUERY_TOKENS,
    TOKEN_MAX,
    is_cjk,
    product_tokens,
    query_tokens,
    rank,
    score,
    tokens,
)
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

#: Common Chinese characters, for generated text.
HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF)


def test_the_issue_example_is_found_by_either_word() -> None:
    held = product_tokens("夏季显瘦连衣裙", "")
    assert held == ("夏季", "季显", "显瘦", "瘦连", "连衣", "衣裙")
    assert query_tokens("连衣裙") == ("连衣", "衣裙")
    assert score(query_tokens("连衣裙"), held) == 2
    assert score(query_tokens("显瘦"), held) == 1
    assert score(query_tokens("裤子"), held) == 0


def test_latin_text_splits_into_case_folded_words() -> None:
    assert tokens("Cast-iron KETTLE, 1.5L") == ["cast", "iron", "kettle", "1", "5l"]


def test_mixed_scripts_split_at_the_script_boundary() -> None:
    assert tokens("Silk真丝枕套 ivory") == ["silk", "真丝", "丝枕", "枕套", "ivory"]


def test_a_lone_cjk_character_is_its_own_token() -> None:
    assert tokens("茶 tea") == ["茶", "tea"]


def test_full_width_forms_match_ascii() -> None:
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in "TEA2024")  # U+FF34 ...
    assert tokens(full_width) == tokens("tea2024") == ["tea2024"]


def test_hangul_and_kana_are_bigrammed_too() -> None:
    assert is_cjk("한")
    assert is_cjk("カ")
    assert tokens("한국어") == ["한국", "국어"]


def test_punctuation_and_symbols_make_no_tokens() -> None:
    assert tokens("!!! — ¥¥ ...") == []


def test_long_words_are_cut() -> None:
    assert tokens("x" * 500) == ["x" * TOKEN_MAX]


def test_queries_keep_their_first_distinct_tokens() -> None:
    query = " ".join(f"w{i}" for i in range(30)) + " w0"
    assert query_tokens(query) == tuple(f"w{i}" for i in range(MAX_QUERY_TOKENS))


def test_products_are_indexed_by_name_and_tags_before_description() -> None:
    description = " ".join(f"d{i}" for i in range(1000))
    held = product_tokens("Jade pillowcase", description, ["Silk", "gift"])
    assert held[:4] == ("jade", "pillowcase", "silk", "gift")
    assert len(held) == MAX_PRODUCT_TOKENS


@given(st.text(HAN, min_size=2, max_size=30), st.data())
def test_every_cjk_substring_is_found_in_its_text(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text) - 2))
    end = data.draw(st.integers(start + 2, len(text)))
    held = product_tokens(text, "")
    query = query_tokens(text[start:end])
    assert query
    assert score(query, held) == len(query)


@given(st.lists(st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True), min_size=1, max_size=8))
def test_every_word_of_a_latin_text_is_found(words: list[str]) -> None:
    held = product_tokens(" ".join(words), "")
    for word in words:
        assert score(query_tokens(word.upper()), held) == 1


@given(st.text(max_size=200))
def test_tokens_are_never_empty_or_long(text: str) -> None:
    for token in tokens(text):
        assert 0 < len(token) <= TOKEN_MAX


def test_rank_prefers_more_matches_then_newer_then_id() -> None:
    hits = [
        ("b", 1, "2026-01-02T00:00:00Z"),
        ("a", 2, "2026-01-01T00:00:00Z"),
        ("c", 1, "2026-01-03T00:00:00Z"),
        ("d", 1, "2026-01-03T00:00:00Z"),
    ]
    assert rank(hits) == ["a", "c", "d", "b"]


@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[a-f0-9]{4}", fullmatch=True),
            st.integers(1, 5),
            st.from_regex(r"2026-0[1-9]-[0-2][0-9]", fullmatch=True),
        ),
        unique_by=lambda h: h[0],
    )
)
def test_rank_is_a_total_order_on_matches_then_time(hits: list[tuple[str, int, str]]) -> None:
    ranked = rank(hits)
    assert sorted(ranked) == sorted(h[0] for h in hits)
    by_id = {h[0]: h for h in hits}
    for earlier, later in itertools.pairwise(ranked):
        a, b = by_id[earlier], by_id[later]
        assert (a[1], a[2]) >= (b[1], b[2])
