"""Entity-level NER benchmark: precision, recall, F1 (exact span and label) and words per second.

Scores PER / ORG / LOC (each label, and micro-averaged over the three) on the WikiNEuRal test
splits in ../shared/data/ner-dev (test.en.conllu, test.it.conllu). Gold MISC spans are ignored,
and so are predicted spans with any label other than PER/ORG/LOC (OntoNotes labels of third-party
pipelines are mapped first: PERSON -> PER, GPE -> LOC).

Input is pre-tokenised: a Doc is built from the test file's own tokens, so tokenisation
differences cannot hurt the span match. Speed is measured in a single process on a single
thread: `nlp.pipe` over those Docs with only the components NER needs (the `ner` component, the
embedding layer it listens to, and any `entity_ruler`).

Usage (from the repository root):

    .venv/bin/python bench/ner_eval.py                      # both languages, tasks/models/<lang>
    .venv/bin/python bench/ner_eval.py --lang en            # one language
    .venv/bin/python bench/ner_eval.py --en en_core_web_sm --it path/to/it_pipeline
    .venv/bin/python bench/ner_eval.py --check              # exit 1 if a target is missed

Targets (issue 5): micro F1 >= 0.80 per language, >= 10,000 words per second per core.
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
TARGET_F1 = 0.80
TARGET_WPS = 10_000


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
            tcol = token_col if token_col is not None else (1 if len(cols) >= 3 else 0)
            words.append(cols[tcol])
            tags.append(cols[tag_col])
    if words:
        yield words, tags


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lang", choices=["en", "it"], action="append",
                    help="language(s) to evaluate (default: both)")
    ap.add_argument("--en", default="tasks/models/en", help="English pipeline: path or package")
    ap.add_argument("--it", default="tasks/models/it", help="Italian pipeline: path or package")
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA,
                    help="shared data folder (default: ../shared/data beside the repository)")
    ap.add_argument("--test-file", type=Path, default=None,
                    help="score this CoNLL file instead of ner-dev/test.<lang>.conllu "
                         "(only with a single --lang)")
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--limit", type=int, default=0, help="first N sentences only (0: all)")
    ap.add_argument("--check", action="store_true",
                    help="exit with status 1 if a language misses F1 >= 0.80 or 10k words/s")
    args = ap.parse_args(argv)

    langs = args.lang or ["en", "it"]
    if args.test_file and len(langs) != 1:
        ap.error("--test-file needs exactly one --lang")

    try:
        from threadpoolctl import threadpool_limits  # optional; env vars above already apply

        threadpool_limits(1)
    except ImportError:
        pass

    missed = []
    for lang in langs:
        test_file = args.test_file or args.data_dir / "ner-dev" / f"test.{lang}.conllu"
        if not test_file.exists():
            print(
                f"ner_eval: test data not found: {test_file}\n"
                f"The NER benchmark needs the team's shared data folder ({args.data_dir}); "
                "it is not part of the repository. Nothing to evaluate.",
                file=sys.stderr,
            )
            return 2
        spec = getattr(args, lang)
        nlp = load_pipeline(spec)
        res = evaluate(nlp, test_file, batch_size=args.batch_size, limit=args.limit)
        print_table(lang, spec, test_file, res)
        micro_f = list(res["counts"].rows())[-1][3]
        if micro_f < TARGET_F1:
            missed.append(f"{lang}: micro F1 {micro_f:.3f} < {TARGET_F1}")
        if res["wps"] < TARGET_WPS:
            missed.append(f"{lang}: {res['wps']:,.0f} words/s < {TARGET_WPS:,}")

    print()
    if missed:
        print("targets missed: " + "; ".join(missed))
    else:
        print(f"targets met: micro F1 >= {TARGET_F1} and >= {TARGET_WPS:,} words/s per language")
    return 1 if (missed and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
