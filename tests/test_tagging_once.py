"""Each text is tagged once per run: copies in one batch, and texts an earlier batch of the run
tagged (they are exact duplicates by the time the batch is written). The run's copy of a text
that nothing stored is still tagged (tests/test_poison_batch.py goes through that path)."""

from __future__ import annotations

from tasks.entities import TextClaims, entities_stage
from warehouse.records import Document
from warehouse.settings import EntitySettings

TEXT = "Angela Merkel met Emmanuel Macron in Paris on Monday, the German government said."
OTHER = "Pope Francis visited Lampedusa and spoke with fishermen from Sicily."


def document(doc_id: str, text: str) -> Document:
    return Document(doc_id=doc_id, source_id=f"s-{doc_id}-{len(text)}", title=None, text=text,
                    original_text=text, url=None, canonical_url=None, published=None,
                    published_precision=None, author=None, site_name=None, encoding="utf-8",
                    format="txt", cleaning=[], language="en")


def test_copies_in_a_batch_are_tagged_once_as_the_first_copy_reads() -> None:
    first = document("x", TEXT)
    spaced = document("x", "  " + TEXT.replace(" met ", "  met  "))  # same doc_id, moved words
    tagged = entities_stage.fn([first, spaced], EntitySettings(), 1)
    assert tagged.skipped == []
    assert {m.label for m in tagged.mentions} >= {"PER", "LOC"}
    assert all(first.text[m.start_char:m.end_char] == m.text for m in tagged.mentions)
    assert len({(m.start_char, m.end_char) for m in tagged.mentions}) == len(tagged.mentions)


def test_texts_an_earlier_batch_tagged_are_skipped_and_named() -> None:
    claims = TextClaims()
    earlier = entities_stage.fn([document("x", TEXT)], EntitySettings(), 1, claims)
    later = entities_stage.fn([document("x", TEXT), document("y", OTHER)], EntitySettings(), 1,
                              claims)
    assert later.skipped == ["x"]
    assert {m.doc_id for m in earlier.mentions} == {"x"}
    assert {m.doc_id for m in later.mentions} == {"y"}
    unclaimed = entities_stage.fn([document("x", TEXT), document("y", OTHER)], EntitySettings(), 1)
    assert unclaimed.skipped == [] and {m.doc_id for m in unclaimed.mentions} == {"x", "y"}
    assert sorted(m for m in unclaimed.mentions if m.doc_id == "x") == sorted(earlier.mentions)


def test_claims_hand_each_text_to_one_caller() -> None:
    claims = TextClaims()
    assert claims.claim(["a", "b", "a"]) == {"a", "b"}
    assert claims.claim(["b", "c"]) == {"c"}
    assert claims.claim([]) == set()


def test_claims_remember_the_last_texts_only() -> None:
    claims = TextClaims(kept=3)
    assert claims.claim(["a", "b", "c", "d"]) == {"a", "b", "c", "d"}
    assert claims.claim(["a", "d"]) == {"a"}  # "a" was forgotten, "d" is among the last three
    assert claims.claim(["b", "c", "d", "a"]) == {"b"}  # "b" went next; "c", "d", "a" stay
