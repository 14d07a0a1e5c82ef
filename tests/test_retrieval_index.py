"""The index a Retriever builds is the one reading every text word by word and adding up a bag of terms
per entry gives: the fast build (pieces of text worked out once, frequencies counted on arrays a block
of entries at a time) changes no number, so no score and no ranking."""

from __future__ import annotations

from array import array
from collections import defaultdict
from dataclasses import replace

import pytest

from bot.content import BUNDLED_CONTENT, load
from bot.content.model import LANGUAGES
from bot.content.text import MAX_ANALYSED_CHARS
from bot.port.markup import plain
from bot.qa import retrieval
from bot.qa.retrieval import K1, WEIGHTS, Analyzer, B, Document, Retriever

CONTENT = load(BUNDLED_CONTENT)

# Texts whose pieces between spaces are read differently from plain words: synonyms of several words
# (across a space, a no-break space, a dash, a piece with no word), one after another, French elisions,
# accents, a combining mark alone, empty pieces, the index's own end of a text, and a text longer than folding
# reads.
AWKWARD = (
    "crystal meth or CRYSTAL\u00a0METH, crystal—meth and crystal",
    "crystal - meth narcan spray narcan kit crystal ... meth",
    "narcan nasal spray where? naloxone",
    "L'OMS et l'héroïne, c'est quoi ? qu'il",
    "e \u0301x — … ,,, ",
    # What marks the end of a text where the index reads many texts at once, inside one.
    "crystal\x00meth narcan \x00 spray \x00",
    "",
    "straight shooter",
    "word " * 900 + "naloxone crystal meth",
)


def reference(documents: list[Document], analyzer: Analyzer) -> tuple[dict[str, list[tuple[int, float]]], list[str]]:
    """The postings (term -> entries and 4-byte weights) and the variant texts, worked out word by word."""
    bags: list[dict[str, float]] = []
    variants: list[str] = []
    for document in documents:
        bag: dict[str, float] = defaultdict(float)
        fields = (
            ("title", (document.title,)),
            ("questions", document.questions),
            ("tags", document.tags),
            ("answer", (plain(document.answer),)),
        )
        for name, texts in fields:
            for text in texts:
                terms = analyzer.terms(analyzer.tokens(text))
                if name in ("title", "questions"):
                    variants.append(" ".join(terms))
                for term in terms:
                    bag[term] += WEIGHTS[name]
        bags.append(bag)
    lengths = [sum(bag.values()) for bag in bags]
    average = sum(lengths) / len(lengths)
    postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for doc, bag in enumerate(bags):
        norm = K1 * (1 - B + B * lengths[doc] / average)
        for term, tf in bag.items():
            held = array("f", [tf])[0]
            postings[term].append((doc, array("f", [held * (K1 + 1) / (held + norm)])[0]))
    return postings, variants


def documents_in(lang: str) -> list[Document]:
    documents = [d for d in (Document.of(e, lang) for e in CONTENT.kb.entries.values()) if d is not None]
    # The awkward texts as variants of a few entries, and their copies (the same pieces met again).
    awkward = [
        replace(d, title=f"{d.title} {i}", questions=(*AWKWARD, *d.questions)) for i, d in enumerate(documents[:3])
    ]
    return [*documents, *awkward, *awkward]


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("numbered", [True, False])
def test_the_index_is_the_one_reading_word_by_word_gives(
    lang: str, numbered: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A few entries at a time, so that the blocks of entries meet.
    monkeypatch.setattr(retrieval, "WEIGHED_AT_ONCE", 7)
    if not numbered:
        # As when a word occurs so often in an entry that the combinations of counts cannot be numbered.
        monkeypatch.setattr(retrieval, "NUMBERED_COMBINATIONS", 1)
    documents = documents_in(lang)
    index = Retriever(documents, Analyzer(CONTENT.lexicon, lang))
    postings, variants = reference(documents, index.analyzer)
    assert index._terms[1:] == list(postings)  # numbered as first met
    for term, expected in postings.items():
        docs, weights = index._postings[index._term_ids[term]]
        assert list(zip(docs, weights, strict=True)) == expected, term
    assert [text for doc in range(len(documents)) for text in index._variant_texts(doc)] == variants


def test_a_text_is_the_words_of_its_pieces() -> None:
    for lang in LANGUAGES:
        analyzer = Analyzer(CONTENT.lexicon, lang)
        texts = [text for d in documents_in(lang) for text in (d.title, *d.questions, *d.tags, plain(d.answer))]
        for text in texts:
            if len(text) <= MAX_ANALYSED_CHARS:
                assert analyzer.tokens(text) == [t for piece in text.split() for t in analyzer.tokens(piece)], text
