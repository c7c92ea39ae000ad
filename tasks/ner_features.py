"""Word-class features for corpusflow's bundled NER pipelines (tasks/models/<lang>).

A compact model trained on ~12,000 sentences has seen few of the names it meets later. What it
lacks is not the name but its kind: that "Chelsea" belongs with "Arsenal" and "Juventus", that
"Witnesses" is a common word with a capital. Two lexicon tables carry that kind, learnt from a far
bigger corpus than ours, into the embedding:

- `lexeme_cluster`: a Brown cluster per word form (bit path as an int, bit-reversed so its low
  bits are the path's prefix). Words used in the same contexts share a path.
- `lexeme_freq`: how common a word form is, as a bin of its negative log probability (1 = most
  common ... 15; 0 = rarer, or not in the table).

Both come from spaCy's lookups data (`spacy-lookups-data`, a training-only dependency; see
training/train_ner.py) and are saved inside the model (vocab/lookups.bin), so loading a model
needs nothing beyond spaCy and this module. `corpusflow.WordClassHashEmbed.v1` is spaCy's
MultiHashEmbed with those columns added: the cluster at several prefix lengths, the frequency of
the form as written and of its lower-case form (a sentence-initial "Witnesses" is common in
lower case; "Paris" is not).

Importing this module registers the architecture; tasks/ner.py and bench/ner_eval.py do it
before loading a bundled model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy
from spacy.attrs import LOWER, ORTH
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import (
    HashEmbed,
    Maxout,
    Model,
    chain,
    concatenate,
    list2ragged,
    ragged2list,
    with_array,
)
from thinc.types import Ints2d

CLUSTER_TABLE = "lexeme_cluster"
FREQ_TABLE = "lexeme_freq"


def _lookup(table: dict, keys: numpy.ndarray) -> numpy.ndarray:
    get = dict.get  # the Table's own .get re-hashes strings; keys here are hashes already
    return numpy.fromiter((get(table, int(k), 0) for k in keys), dtype="uint64", count=len(keys))


def word_class_columns(doc: Doc, prefixes: Sequence[int]) -> numpy.ndarray:
    """(tokens x (len(prefixes) + 3)) ids: cluster prefixes, full cluster, freq of form, of lower."""
    lookups = doc.vocab.lookups
    clusters = lookups.get_table(CLUSTER_TABLE, {})
    freqs = lookups.get_table(FREQ_TABLE, {})
    ids = doc.to_array([ORTH, LOWER])
    cluster = _lookup(clusters, ids[:, 0])
    known = cluster > 0  # stored as path + 1, so 0 means "no cluster"
    columns = [numpy.where(known, ((cluster - 1) & ((1 << n) - 1)) + 1, 0) for n in prefixes]
    columns += [cluster, _lookup(freqs, ids[:, 0]), _lookup(freqs, ids[:, 1])]
    return numpy.stack(columns, axis=1).astype("uint64")


def _extract_forward(model: Model, docs: list, is_train: bool):
    attrs, prefixes = model.attrs["columns"], model.attrs["prefixes"]
    word_dropout = model.attrs["word_dropout"] if is_train else 0.0
    features: list[Ints2d] = []
    for doc in docs:
        whole = doc if isinstance(doc, Doc) else doc.doc
        base = whole.to_array(attrs).reshape((len(whole), len(attrs))).astype("uint64")
        if word_dropout:
            # Hide the word itself now and then, so that the model also learns to type a name
            # from its class, shape and context: most names in new text were never trained on.
            base[numpy.random.random(len(whole)) < word_dropout, 0] = 0
        both = numpy.hstack([base, word_class_columns(whole, prefixes)])
        if not isinstance(doc, Doc):
            both = both[doc.start : doc.end]
        features.append(model.ops.asarray2i(both, dtype="uint64"))
    return features, lambda d_features: []


def WordClassFeatures(attrs: list, prefixes: list[int], word_dropout: float = 0.0) -> Model:
    return Model(
        "extract_word_class_features",
        _extract_forward,
        attrs={"columns": list(attrs), "prefixes": list(prefixes), "word_dropout": word_dropout},
    )


@registry.architectures("corpusflow.WordClassHashEmbed.v1")
def WordClassHashEmbed(
    width: int,
    attrs: list[str],
    rows: list[int],
    cluster_prefixes: list[int],
    cluster_rows: list[int],
    freq_rows: int,
    word_dropout: float = 0.0,
) -> Model:
    """MultiHashEmbed (spaCy) over `attrs`, plus the cluster at each of `cluster_prefixes` bits
    and in full (`cluster_rows`: one row count per prefix, then the full cluster), plus two
    frequency bins (`freq_rows` rows each). In training, `word_dropout` is the share of tokens
    whose first attribute (the word) is hidden."""
    if len(rows) != len(attrs) or len(cluster_rows) != len(cluster_prefixes) + 1:
        raise ValueError("rows must match attrs; cluster_rows must be one longer than prefixes")
    all_rows = list(rows) + list(cluster_rows) + [freq_rows, freq_rows]
    embeddings = [
        HashEmbed(width, n, column=i, seed=8 + i, dropout=0.0) for i, n in enumerate(all_rows)
    ]
    max_out = with_array(
        Maxout(width, width * len(embeddings), nP=3, dropout=0.0, normalize=True)
    )
    return chain(
        WordClassFeatures(attrs, cluster_prefixes, word_dropout),
        list2ragged(),
        with_array(concatenate(*embeddings)),
        max_out,
        ragged2list(),
    )


def add_word_classes(
    nlp: Language, clusters: dict[str, int], freqs: dict[str, int]
) -> Language:
    """Store the two tables in `nlp`'s vocab (saved with the model). Cluster values are stored
    plus one so that 0 stays "unknown"."""
    lookups = nlp.vocab.lookups
    for name in (CLUSTER_TABLE, FREQ_TABLE):
        if lookups.has_table(name):
            lookups.remove_table(name)
    lookups.add_table(CLUSTER_TABLE, {w: c + 1 for w, c in clusters.items()})
    lookups.add_table(FREQ_TABLE, dict(freqs))
    return nlp


@registry.callbacks("corpusflow.add_word_classes.v1")
def make_add_word_classes(path: str) -> Callable[[Language], Language]:
    """`[initialize.before_init]` callback for training: read the tables that
    training/train_ner.py wrote to `path` (JSON: {"clusters": {...}, "freqs": {...}})."""

    def before_init(nlp: Language) -> Language:
        import json

        with open(path, encoding="utf-8") as fh:
            tables = json.load(fh)
        return add_word_classes(nlp, tables["clusters"], tables["freqs"])

    return before_init
