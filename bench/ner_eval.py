"""Entity benchmark of the whole pipeline: precision, recall, F1 (exact span and type) and speed.

Scores what a user's documents get: `tasks.ner.tag_entities`, the pipeline's own entity stage
(model, dateline rule, gazetteer, document consistency, span trimming), on gold tokens joined by
single spaces (none after an elision such as Italian "l'", as printed), PER / ORG / LOC (gold
MISC and predicted MISC are left out):

- the news dev sets (the yardstick): CoNLL-2003 English valid, tagged one document at a time with
  its sentences joined by newlines; KIND Italian Wikinews `WN_dev`, one sentence at a time;
- the WikiNEuRal test splits (silver, Wikipedia), one sentence at a time: a floor, not a target.

Each unit is tagged in the language of its set (language detection is not scored here). Speed is
the entity stage's wall time over the set, in one process on one thread, in gold words per second.

    .venv/bin/python bench/ner_eval.py                   # both languages, the bundled models
    .venv/bin/python bench/ner_eval.py --lang en --en training/output/en-news+misc/model-best
    .venv/bin/python bench/ner_eval.py --lang it --without-gazetteer   # the gazetteer's net value
    .venv/bin/python bench/ner_eval.py --errors 50       # also print 50 error cases per set
    .venv/bin/python bench/ner_eval.py --check           # exit 1 if a target is missed

Targets (issue 14): F1 >= 0.88 English (CoNLL valid), >= 0.82 Italian (WN_dev), >= 0.75 on the
WikiNEuRal tests, >= 10,000 words per second per core.

The model-alone helpers below (`load_pipeline`, `evaluate`) score a spaCy pipeline on pre-tokenised
sentences; training/train_ner.py uses them to compare training runs.
"""

from __future__ import annotations

import os

# Single-threaded BLAS before numpy (via spaCy) is imported: the speed figure is per core.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
LABELS = ("PER", "ORG", "LOC")
LABEL_MAP = {"PERSON": "PER", "GPE": "LOC"}  # OntoNotes-style pipelines (en_core_web_*)
TARGET_WPS = 10_000
# name, file under the data folder, unit, F1 target
NEWS_SETS = {
    "en": ("CoNLL-2003 valid", "ner-news/conll2003_en_valid.conllu", "document", 0.88),
    "it": ("KIND WN_dev", "ner-train/it-kind/WN_dev.tsv", "sentence", 0.82),
}
SILVER_SETS = {lang: (f"WikiNEuRal test ({lang})", f"ner-dev/test.{lang}.conllu", "sentence", 0.75)
               for lang in ("en", "it")}


# --------------------------------------------------------------------------- reading the data


def read_conll(path: Path, token_col: int | None = None, tag_col: int = -1):
    """Yield (words, tags) per sentence from a CoNLL-like file (blank line between sentences).

    Columns are split on tabs (on whitespace if a line has no tab). By default the token is the
    second column when there are three or more (index, token, tag: the WikiNEuRal layout) and the
    first otherwise; the tag is the last column. Lines starting with '-DOCSTART-' or '#' are
    skipped.
    """
    words: list[str] = []
    tags: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                if words:
                    yield words, tags
                    words, tags = [], []
                continue
            if line.startswith("-DOCSTART-") or line.startswith("# "):
                continue
            cols = line.split("\t") if "\t" in line else line.split()
            words.append(cols[token_col if token_col is not None else _token_column(cols)])
            tags.append(cols[tag_col])
    if words:
        yield words, tags


def _token_column(cols: list[str]) -> int:
    """The token's column: the second of three or more (index, token, tag), else the first."""
    return 1 if len(cols) >= 3 else 0


def tags_to_spans(tags: list[str]) -> list[tuple[int, int, str]]:
    """Entity spans (start, end_exclusive, label) from IOB2, IOB1 or IO tags.

    A span starts at a B- tag, or at an I- (or bare) tag whose label differs from the previous
    token's; consecutive I-/bare tags of the same label continue it.
    """
    spans: list[tuple[int, int, str]] = []
    start, label = None, None
    for i, tag in enumerate(tags):
        if tag in ("O", "_", "") or tag is None:
            prefix, lab = "O", None
        elif tag[:2] in ("B-", "I-", "E-", "S-", "L-", "U-"):
            prefix, lab = tag[0], tag[2:]
        else:  # IO scheme: bare label
            prefix, lab = "I", tag
        begins = prefix in ("B", "S", "U") or (prefix in ("I", "E", "L") and lab != label)
        if label is not None and (prefix == "O" or begins):
            spans.append((start, i, label))
            start, label = None, None
        if prefix != "O" and label is None:
            start, label = i, lab
    if label is not None:
        spans.append((start, len(tags), label))
    return spans


# --------------------------------------------------------------------------- scoring


@dataclass
class Counts:
    tp: dict = field(default_factory=lambda: {lab: 0 for lab in LABELS})
    fp: dict = field(default_factory=lambda: {lab: 0 for lab in LABELS})
    fn: dict = field(default_factory=lambda: {lab: 0 for lab in LABELS})

    def add(self, gold: set, pred: set) -> None:
        for span in pred:
            (self.tp if span in gold else self.fp)[span[2]] += 1
        for span in gold - pred:
            self.fn[span[2]] += 1

    @staticmethod
    def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f

    def rows(self):
        for lab in LABELS:
            tp, fp, fn = self.tp[lab], self.fp[lab], self.fn[lab]
            yield (lab, *self.prf(tp, fp, fn), tp + fn, tp + fp)
        tp, fp, fn = (sum(d.values()) for d in (self.tp, self.fp, self.fn))
        yield ("micro", *self.prf(tp, fp, fn), tp + fn, tp + fp)


def needed_components(nlp) -> list[str]:
    """The pipe names NER needs: 'ner' (or any EntityRecognizer), the embedding layers it
    listens to, and any entity ruler."""
    from spacy.pipeline import EntityRecognizer, EntityRuler

    keep = set()
    for name, pipe in nlp.pipeline:
        if isinstance(pipe, (EntityRecognizer, EntityRuler)) or name == "ner":
            keep.add(name)
    for name, pipe in nlp.pipeline:
        listeners = getattr(pipe, "listening_components", None) or []
        if any(lis in keep for lis in listeners):
            keep.add(name)
    return [name for name in nlp.pipe_names if name in keep]


def load_pipeline(spec: str):
    import spacy

    import tasks.ner_features  # noqa: F401  (registers the bundled models' embedding layer)

    path = Path(spec)
    if not path.is_absolute() and (REPO / spec).exists() and not path.exists():
        path = REPO / spec
    target = path if path.exists() else spec
    try:
        nlp = spacy.load(target)
    except OSError as exc:
        sys.exit(f"ner_eval: cannot load spaCy pipeline {spec!r}: {exc}")
    keep = needed_components(nlp)
    if not keep:
        sys.exit(f"ner_eval: pipeline {spec!r} has no 'ner' component")
    nlp.select_pipes(enable=keep)
    return nlp


def evaluate(nlp, test_file: Path, batch_size: int = 1000, limit: int = 0) -> dict:
    from spacy.tokens import Doc

    sentences = list(read_conll(test_file))
    if limit:
        sentences = sentences[:limit]
    golds = [
        {s for s in tags_to_spans(tags) if s[2] in LABELS} for _words, tags in sentences
    ]
    docs = [Doc(nlp.vocab, words=words) for words, _tags in sentences]
    n_words = sum(len(d) for d in docs)

    # Warm-up on a few docs (allocations, lazy init) so the timing is steady-state.
    list(nlp.pipe([Doc(nlp.vocab, words=w) for w, _ in sentences[:50]]))
    start = time.perf_counter()
    out = list(nlp.pipe(docs, batch_size=batch_size))
    seconds = time.perf_counter() - start

    counts = Counts()
    for doc, gold in zip(out, golds):
        pred = set()
        for ent in doc.ents:
            label = LABEL_MAP.get(ent.label_, ent.label_)
            if label in LABELS:
                pred.add((ent.start, ent.end, label))
        counts.add(gold, pred)
    return {
        "counts": counts,
        "sentences": len(docs),
        "words": n_words,
        "seconds": seconds,
        "wps": n_words / seconds if seconds else float("inf"),
        "components": list(nlp.pipe_names),
    }


def print_table(lang: str, spec: str, test_file: Path, res: dict) -> None:
    print(f"\n== {lang}: {spec}  on {test_file.name}  (components: {', '.join(res['components'])})")
    print(f"{'label':<8}{'P':>8}{'R':>8}{'F1':>8}{'gold':>8}{'pred':>8}")
    for lab, p, r, f, gold, pred in res["counts"].rows():
        print(f"{lab:<8}{p:>8.3f}{r:>8.3f}{f:>8.3f}{gold:>8}{pred:>8}")
    print(
        f"speed: {res['words']:,} words in {res['sentences']:,} sentences, "
        f"{res['seconds']:.2f} s -> {res['wps']:,.0f} words/s (1 process, 1 thread)"
    )


# --------------------------------------------------------------------------- the whole pipeline


def read_documents(path: Path) -> list[list[tuple[list[str], list[str]]]]:
    """CoNLL-2003 documents: the sentences between two -DOCSTART- lines."""
    documents: list[list] = [[]]
    with open(path, encoding="utf-8") as fh:
        block: list[str] = []
        for line in [*fh, "\n"]:
            line = line.rstrip("\n")
            if line.strip():
                block.append(line)
                continue
            if any("-DOCSTART-" in row for row in block):
                if documents[-1]:
                    documents.append([])
            elif block:
                cols = [row.split("\t") for row in block]
                documents[-1].append(([c[_token_column(c)] for c in cols],
                                      [c[-1] for c in cols]))
            block = []
    return [doc for doc in documents if doc]


@dataclass
class Unit:
    """One text handed to the entity stage, with its gold character spans."""

    unit_id: str
    text: str
    gold: set  # (start_char, end_char, label)
    words: int


def _glued(token: str) -> bool:
    """An elided article or preposition, printed against the next word ("l'Italia", "dell'")."""
    return len(token) > 1 and token[-1] in "'’" and token[:-1].isalpha()


def build_unit(unit_id: str, sentences: list[tuple[list[str], list[str]]]) -> Unit:
    """Gold tokens joined by spaces (none after an elision, as printed), sentences by newlines;
    token spans become character spans."""
    lines, gold, offset, words = [], set(), 0, 0
    for tokens, tags in sentences:
        starts, parts, position = [], [], offset
        for token in tokens:
            starts.append(position)
            separator = "" if _glued(token) else " "
            parts.append(token + separator)
            position += len(token) + len(separator)
        for start, end, label in tags_to_spans(tags):
            if label in LABELS:
                gold.add((starts[start], starts[end - 1] + len(tokens[end - 1]), label))
        line = "".join(parts).rstrip(" ")
        lines.append(line)
        offset += len(line) + 1
        words += len(tokens)
    return Unit(unit_id, "\n".join(lines), gold, words)


def load_units(path: Path, unit: str) -> list[Unit]:
    if unit == "document":
        return [build_unit(f"doc{n}", doc) for n, doc in enumerate(read_documents(path))]
    return [build_unit(f"s{n}", [sent]) for n, sent in enumerate(read_conll(path))]


def evaluate_pipeline(units: list[Unit], language: str, models: dict[str, str]) -> dict:
    from tasks.ner import load_tagger, tag_entities

    load_tagger(language, models.get(language))  # loading is not part of the speed figure
    tag_entities([("warm-up", units[0].text, language)], models)
    items = [(u.unit_id, u.text, language) for u in units]
    start = time.perf_counter()
    mentions = tag_entities(items, models)
    seconds = time.perf_counter() - start
    predicted: dict[str, set] = {u.unit_id: set() for u in units}
    for m in mentions:
        if m.label in LABELS:
            predicted[m.doc_id].add((m.start_char, m.end_char, m.label))
    counts = Counts()
    errors = []
    for u in units:
        counts.add(u.gold, predicted[u.unit_id])
        if u.gold != predicted[u.unit_id]:
            errors.append((u, u.gold - predicted[u.unit_id], predicted[u.unit_id] - u.gold))
    words = sum(u.words for u in units)
    return {"counts": counts, "words": words, "units": len(units), "seconds": seconds,
            "wps": words / seconds if seconds else float("inf"), "errors": errors}


def print_pipeline_table(title: str, tagger: str, res: dict, target: float) -> float:
    print(f"\n== {title}: {res['units']:,} units, {res['words']:,} words  ({tagger})")
    print(f"{'label':<8}{'P':>8}{'R':>8}{'F1':>8}{'gold':>8}{'pred':>8}")
    rows = list(res["counts"].rows())
    for lab, p, r, f, gold, pred in rows:
        print(f"{lab:<8}{p:>8.3f}{r:>8.3f}{f:>8.3f}{gold:>8}{pred:>8}")
    micro = rows[-1][3]
    print(f"entity stage: {res['seconds']:.1f} s -> {res['wps']:,.0f} words/s (1 process, 1 thread);"
          f" F1 target {target:.2f}: {'met' if micro >= target else 'MISSED'}")
    return micro


def print_errors(res: dict, sample: int) -> None:
    import random

    cases = []
    for unit, missed, invented in res["errors"]:
        for start, end, label in sorted(missed | invented):
            kind = "missed" if (start, end, label) in missed else "invented"
            line_start = unit.text.rfind("\n", 0, start) + 1
            line_end = unit.text.find("\n", end)
            line = unit.text[line_start: line_end if line_end >= 0 else None]
            cases.append(f"{kind:<9}{label:<4} {unit.text[start:end]!r:<30} | {line[:160]}")
    for case in random.Random(0).sample(cases, min(sample, len(cases))):
        print("  " + case)


def bbc_speed(data_dir: Path, models: dict[str, str], limit: int) -> dict | None:
    """Words per second of the entity stage on BBC news articles (English, whole documents):
    the speed target is stated on this text, longer than the dev sets' sentences."""
    from tasks.ner import load_tagger, tag_entities

    files = sorted((data_dir / "bbc-news").glob("*/*.txt"))[: limit or 1000]
    if not files:
        return None
    texts = [f.read_text(encoding="utf-8", errors="replace") for f in files]
    load_tagger("en", models.get("en"))
    tag_entities([("warm-up", texts[0], "en")], models)
    start = time.perf_counter()
    mentions = tag_entities([(str(n), t, "en") for n, t in enumerate(texts)], models)
    seconds = time.perf_counter() - start
    words = sum(len(t.split()) for t in texts)
    return {"articles": len(texts), "words": words, "seconds": seconds, "mentions": len(mentions),
            "wps": words / seconds}


def run_pipeline_benchmark(args) -> list[str]:
    from tasks import ner as entities

    if args.without_gazetteer:
        entities.ruler_patterns = lambda language: []  # the gazetteer's net value: none of it
    models = {lang: getattr(args, lang) for lang in ("en", "it") if getattr(args, lang)}
    missed = []
    for lang in args.lang or ["en", "it"]:
        sets = [NEWS_SETS[lang]] + ([] if args.news_only else [SILVER_SETS[lang]])
        for title, rel, unit, target in sets:
            path = args.data_dir / rel
            if not path.exists():
                print(f"ner_eval: {path} not found: the team's shared data folder "
                      f"({args.data_dir}) is not part of the repository; skipping {title}.",
                      file=sys.stderr)
                continue
            units = load_units(path, unit)[: args.limit or None]
            res = evaluate_pipeline(units, lang, models)
            tagger = entities.tagger_name(lang, models)
            micro = print_pipeline_table(title, tagger, res, target)
            if args.errors:
                print_errors(res, args.errors)
            if micro < target:
                missed.append(f"{title}: F1 {micro:.3f} < {target}")
            if res["wps"] < TARGET_WPS:
                missed.append(f"{title}: {res['wps']:,.0f} words/s < {TARGET_WPS:,}")
    if "en" in (args.lang or ["en"]) and (speed := bbc_speed(args.data_dir, models, args.limit)):
        print(f"\n== BBC news speed (en): {speed['articles']:,} articles, {speed['words']:,} words,"
              f" {speed['mentions']:,} mentions in {speed['seconds']:.1f} s ->"
              f" {speed['wps']:,.0f} words/s (1 process, 1 thread)")
        if speed["wps"] < TARGET_WPS:
            missed.append(f"BBC news: {speed['wps']:,.0f} words/s < {TARGET_WPS:,}")
    return missed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lang", choices=["en", "it"], action="append",
                    help="language(s) to evaluate (default: both)")
    ap.add_argument("--en", default=None, help="English pipeline (default: the bundled one)")
    ap.add_argument("--it", default=None, help="Italian pipeline (default: the bundled one)")
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA,
                    help="shared data folder (default: ../shared/data beside the repository)")
    ap.add_argument("--limit", type=int, default=0, help="first N units per set only (0: all)")
    ap.add_argument("--news-only", action="store_true", help="skip the WikiNEuRal test splits")
    ap.add_argument("--without-gazetteer", action="store_true",
                    help="the same pipeline with an empty gazetteer (to measure its value)")
    ap.add_argument("--errors", type=int, default=0, metavar="N",
                    help="print a seeded sample of N error cases per set")
    ap.add_argument("--check", action="store_true", help="exit with status 1 if a target is missed")
    args = ap.parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits  # optional; env vars above already apply

        threadpool_limits(1)
    except ImportError:
        pass
    sys.path.insert(0, str(REPO))
    if not args.data_dir.exists():
        print(f"ner_eval: {args.data_dir} not found: the team's shared data folder is not part "
              "of the repository. Nothing to evaluate.", file=sys.stderr)
        return 2
    missed = run_pipeline_benchmark(args)
    print()
    print("targets missed: " + "; ".join(missed) if missed else
          "targets met: news F1 (en >= 0.88, it >= 0.82), WikiNEuRal >= 0.75, >= 10,000 words/s")
    return 1 if (missed and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
