"""Word-class features of the bundled NER models (tasks/ner_features.py)."""

from __future__ import annotations

from pathlib import Path

import numpy
import spacy
from spacy.training import Example

from tasks import ner as entities
from tasks.ner_features import (
    CLUSTER_TABLE,
    FREQ_TABLE,
    WordClassFeatures,
    add_word_classes,
    word_class_columns,
)

# Brown paths as spaCy stores them: bit-reversed, so the low bits are the path's first steps.
CITY = 0b1010110  # Paris, London
CLUB = 0b0110110  # Chelsea: shares the first 4 steps with the cities, not the first 8
CLUSTERS = {"Paris": CITY, "London": CITY, "Chelsea": CLUB}
FREQS = {"the": 1, "The": 3, "paris": 12, "Paris": 9, "London": 8, "witnesses": 10}


def english_with_word_classes() -> spacy.Language:
    return add_word_classes(spacy.blank("en"), CLUSTERS, FREQS)


def test_columns_give_prefixes_full_cluster_and_both_frequencies() -> None:
    nlp = english_with_word_classes()
    doc = nlp("The Paris London Chelsea Witnesses Zork")
    cols = word_class_columns(doc, [4, 8])
    # columns: prefix 4, prefix 8, full cluster (path + 1; 0 = none), freq as written, freq lower
    assert cols.dtype == numpy.uint64 and cols.shape == (6, 5)
    the, paris, london, chelsea, witnesses, zork = (list(row) for row in cols)
    assert paris[:3] == london[:3] == [(CITY & 0xF) + 1, (CITY & 0xFF) + 1, CITY + 1]
    assert chelsea[0] == paris[0] and chelsea[1] != paris[1] and chelsea[2] == CLUB + 1
    assert the[3:] == [3, 1]  # "The" is rarer than "the"
    assert paris[3:] == [9, 12] and london[3:] == [8, 0]
    assert witnesses == [0, 0, 0, 0, 10]  # unknown as written, common in lower case
    assert zork == [0, 0, 0, 0, 0]


def tiny_model(path: Path) -> spacy.Language:
    nlp = english_with_word_classes()
    nlp.add_pipe("tok2vec", config={"model": {
        "@architectures": "spacy.Tok2Vec.v2",
        "embed": {"@architectures": "corpusflow.WordClassHashEmbed.v1", "width": 16,
                  "attrs": ["NORM", "SHAPE"], "rows": [50, 20], "cluster_prefixes": [4],
                  "cluster_rows": [8, 16], "freq_rows": 8},
        "encode": {"@architectures": "spacy.MaxoutWindowEncoder.v2", "width": 16, "depth": 1,
                   "window_size": 1, "maxout_pieces": 2}}})
    doc = nlp.make_doc("Chelsea played in London")
    nlp.initialize(lambda: [Example.from_dict(doc, {})])
    nlp.to_disk(path)
    return nlp


def test_model_with_word_classes_round_trips_with_its_tables(tmp_path: Path) -> None:
    trained = tiny_model(tmp_path / "tiny")
    loaded = spacy.load(tmp_path / "tiny")
    assert dict(loaded.vocab.lookups.get_table(CLUSTER_TABLE).items()) == \
        dict(trained.vocab.lookups.get_table(CLUSTER_TABLE).items())
    text = "Chelsea beat Paris in London"
    numpy.testing.assert_allclose(loaded(text).tensor, trained(text).tensor, rtol=1e-5)
    # the tables change the output: the same model without them embeds differently
    loaded.vocab.lookups.remove_table(CLUSTER_TABLE)
    assert not numpy.allclose(loaded(text).tensor, trained(text).tensor)
    # an empty document in a batch is no error
    assert [doc.tensor.shape for doc in trained.pipe(["", text])] == [(0, 16), (5, 16)]


def test_word_dropout_hides_the_word_in_training_only() -> None:
    nlp = english_with_word_classes()
    doc = nlp("Chelsea beat Paris")
    extract = WordClassFeatures(["NORM", "SHAPE"], [4], word_dropout=1.0)
    predicted, _ = extract([doc], is_train=False)
    trained, _ = extract([doc], is_train=True)
    assert list(predicted[0][:, 0]) == [nlp.vocab.strings[t.norm_] for t in doc]
    assert list(trained[0][:, 0]) == [0, 0, 0]
    # only the word is hidden: its shape and classes still reach the model
    numpy.testing.assert_array_equal(trained[0][:, 1:], predicted[0][:, 1:])


def test_bundled_english_model_ships_its_word_classes() -> None:
    nlp = spacy.load(entities.BUNDLED_MODELS / "en")
    assert len(nlp.vocab.lookups.get_table(CLUSTER_TABLE)) > 50_000
    assert len(nlp.vocab.lookups.get_table(FREQ_TABLE)) > 50_000
