"""Near-duplicate detection: MinHash/LSH parameters on seed variants, pure functions only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tasks.near_dup import (
    _MERSENNE, _permutations, band_keys, batch_candidates, confirm_matches, documents_band_keys,
    jaccard, mod_mersenne, near_split, shingles, signature,
)
from warehouse.records import BandKeys, Document
from warehouse.settings import DedupSettings

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
PARAMS = DedupSettings()


def seed_body(name: str) -> str:
    return (SEEDS / name).read_text(encoding="utf-8")


def variants(text: str) -> dict[str, str]:
    paragraphs = text.split("\n\n")
    return {
        "paragraph_removed": "\n\n".join(paragraphs[:2] + paragraphs[3:]),
        "sentence_reworded": text.replace(
            "Witnesses described men in camouflage shooting into the crowd in the foyer",
            "People who were there said gunmen wearing camouflage fired into the crowd in the lobby",
        ),
        "footer_added": text + "\n\nFollow our live coverage for the latest updates. Sign up "
        "for the morning briefing to get the day's top stories in your inbox.",
        "quotes_swapped": text.replace("”", "’").replace('"', "«", 1).replace('"', "»", 1)
        .replace("'", "’"),
    }


def estimated(a: str, b: str) -> float:
    sa, sb = (signature(shingles(t, PARAMS.shingle_size), PARAMS.num_perm) for t in (a, b))
    return float(np.mean(sa == sb))


@pytest.mark.parametrize(("seed", "kind"), [
    ("000.txt", "paragraph_removed"), ("000.txt", "sentence_reworded"),
    ("000.txt", "footer_added"), ("001.txt", "quotes_swapped")])
def test_seed_variants_are_near_duplicates(seed: str, kind: str) -> None:
    original = seed_body(seed)
    variant = variants(original)[kind]
    assert variant != original
    exact = jaccard(shingles(original, 5), shingles(variant, 5))
    assert exact >= PARAMS.threshold
    assert abs(estimated(original, variant) - exact) < 0.15  # MinHash tracks the exact value
    shared = set(enumerate(band_keys(signature(shingles(original, 5), 128), PARAMS)))
    other = set(enumerate(band_keys(signature(shingles(variant, 5), 128), PARAMS)))
    assert shared & other  # LSH makes it a candidate


def test_two_reports_of_one_attack_are_not_near_duplicates() -> None:
    a, b = shingles(seed_body("000.txt"), 5), shingles(seed_body("001.txt"), 5)
    assert jaccard(a, b) < 0.1


def test_shingles_ignore_case_and_punctuation_and_handle_short_texts() -> None:
    assert np.array_equal(shingles("One, two; THREE four five six", 5),
                          shingles("one two three four five six", 5))
    assert shingles("", 5).size == 0
    assert shingles("just three words", 5).size == 1


def test_band_keys_shape_and_determinism() -> None:
    sig = signature(shingles(seed_body("002.txt"), 5), 128)
    keys = band_keys(sig, PARAMS)
    assert len(keys) == 32
    assert all(0 <= key < 2**63 for key in keys)
    assert len(set(keys)) > 1  # each band hashes its own rows
    assert keys == band_keys(signature(shingles(seed_body("002.txt"), 5), 128), PARAMS)


def test_batch_candidates_pair_later_with_earlier() -> None:
    text = seed_body("003.txt")
    keys = BandKeys()
    keys.add("early", band_keys(signature(shingles(text, 5), 128), PARAMS))
    keys.add("late", band_keys(signature(shingles(text + " Fine.", 5), 128), PARAMS))
    order = {"early": (1, 0, "early"), "late": (1, 1, "late")}
    assert batch_candidates(keys, order) == {("late", "early")}


def test_confirm_matches_chains_to_the_earliest_canonical() -> None:
    base = seed_body("004.txt")
    sets = {"stored": shingles(base, 5), "copy": shingles(base + " Altro.", 5),
            "copy_of_copy": shingles(base + " Altro. Ancora.", 5),
            "different": shingles(seed_body("003.txt"), 5)}
    order = {"stored": (0, 5, "stored"), "copy": (1, 0, "copy"),
             "copy_of_copy": (1, 1, "copy_of_copy"), "different": (1, 2, "different")}
    pairs = [("copy", "stored"), ("copy_of_copy", "copy"), ("different", "stored")]
    matches = confirm_matches(pairs, sets, {}, order, 0.6)
    assert [(m.doc_id, m.canonical_doc_id) for m in matches] == [
        ("copy", "stored"), ("copy_of_copy", "stored")]


def test_signature_in_chunks_equals_the_whole_matrix() -> None:
    hashes = np.unique(np.random.default_rng(3).integers(0, 2**63, size=10_000, dtype=np.uint64))
    a, b = _permutations(PARAMS.num_perm)
    with np.errstate(over="ignore"):
        whole = ((hashes[:, None] * a[None, :] + b[None, :]) % _MERSENNE).min(axis=0)
    assert np.array_equal(signature(hashes, PARAMS.num_perm), whole)


def test_the_remainder_without_division_equals_the_modulo_at_its_edges() -> None:
    modulus = int(_MERSENNE)
    edges = [0, 1, modulus - 1, modulus, modulus + 1, modulus + 7, 2 * modulus - 1, 2 * modulus,
             2**61, 2**62, 2**63, 2**64 - 8, 2**64 - 2, 2**64 - 1]
    values = np.array(edges + list(np.random.default_rng(5).integers(
        0, 2**64 - 1, size=100_000, dtype=np.uint64, endpoint=True)), dtype=np.uint64)
    assert mod_mersenne(values).tolist() == [int(v) % modulus for v in values.tolist()]


def test_a_long_text_is_hashed_without_a_matrix_of_its_size() -> None:
    import tracemalloc

    text = " ".join(f"w{n}" for n in range(300_000))  # 300,000 shingles: a 300 MB matrix at once
    hashes = shingles(text, PARAMS.shingle_size)
    tracemalloc.start()
    signature(hashes, PARAMS.num_perm)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 * 2**20, f"{peak / 2**20:.0f} MiB"


def test_texts_without_words_are_never_near_duplicates() -> None:
    documents = [Document(doc_id=doc_id, source_id=doc_id, title=None, text=text,
                          original_text=text, url=None, canonical_url=None, published=None,
                          published_precision=None, author=None, site_name=None, encoding="utf-8",
                          format="txt", cleaning=[])
                 for doc_id, text in [("e1", "🙂🙂🙂 🎉"), ("e2", "!!! ??? ..."), ("e3", "🙂🙂🙂 🎉!")]]
    sets, keys = documents_band_keys(((d.doc_id, d.text) for d in documents), PARAMS)
    assert len(keys) == 0  # no band keys, so never a candidate against stored documents either
    split = near_split(documents, sets, keys, [], [], PARAMS)
    assert split.duplicates == []
    assert jaccard(sets["e1"], sets["e2"]) == 0.0
