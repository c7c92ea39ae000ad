"""Language identification on sentences: accuracy, `und` share and confusion, per language.

Scores what a user's short documents get: `tasks.language.detect_language`, the pipeline's own
language function, with the default LanguageSettings (or the values given on the command line),
on sentences whose language is known from where they come from:

- English: the BBC corpus (`bbc-news/<category>/<NNN>.txt`, headline and paragraphs);
- Italian: KIND Wikinews `WN_train` and WikiNEuRal `it_val.conllu`, sentences rebuilt from their
  tokens (one space between tokens, none before closing punctuation or after an elision);
- other languages (de, es, fr, pl, tr, ar): the texts of `story-pairs/train_pairs.csv` (language
  per text in its `lang1`/`lang2` columns); they give the rate at which other languages are
  confused with English or Italian. Some of those texts are cookie walls in English rather than
  articles, so that rate is an upper bound.

Sentences are cut at a stop, question or exclamation mark followed by a space, and at line
breaks; only sentences with at least `--min-sentence-letters` letters (20: the issue's "sentence")
are sampled, with a fixed seed. Only train and dev files are read, never a test split.

    .venv/bin/python bench/language.py                        # 3,000 sentences per language
    .venv/bin/python bench/language.py --per-language 5000 --errors 20
    .venv/bin/python bench/language.py --min-letters 30 --min-prob 0.8   # other thresholds

Targets (issue 18): accuracy >= 0.997 and `und` < 0.5% on English and on Italian.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tasks.language import UNDETERMINED, count_letters, detect_language
from warehouse.settings import LanguageSettings

DEFAULT_DATA = REPO.parent / "shared" / "data"
ITALIAN_FILES = ("ner-train/it-kind/WN_train.tsv", "ner-train/it_val.conllu")
TARGET_ACCURACY = 0.997
TARGET_UND = 0.005

# Two fixed-width look-behinds: a stop alone, or a stop and a closing quote.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"”’'»)]))\s+|\n+")
_NO_SPACE_BEFORE = re.compile(r" ([,.;:!?%)\]»”])")
_NO_SPACE_AFTER = re.compile(r"([(\[«“]|\b\w+['’]) ")

Detect = Callable[[str], tuple[str, float]]


def split_sentences(text: str) -> list[str]:
    """Sentences of a running text, stripped, empty ones dropped."""
    return [part.strip() for part in _SENTENCE_END.split(text) if part and part.strip()]


def join_tokens(tokens: list[str]) -> str:
    """A sentence as printed, from its tokens."""
    text = _NO_SPACE_BEFORE.sub(r"\1", " ".join(tokens))
    return _NO_SPACE_AFTER.sub(r"\1", text)


def bbc_sentences(data: Path) -> Iterator[str]:
    """Every sentence of the BBC corpus, headlines included."""
    for path in sorted(data.glob("bbc-news/*/*.txt")):
        yield from split_sentences(path.read_bytes().decode("utf-8", errors="replace"))


def conll_sentences(path: Path) -> Iterator[str]:
    """Sentences of a token-per-line file (`token TAB tag` or `index TAB token TAB tag`)."""
    tokens: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        columns = line.split("\t")
        if not line.strip() or line.startswith(("#", "-DOCSTART-")):
            if tokens:
                yield join_tokens(tokens)
            tokens = []
            continue
        tokens.append(columns[1] if len(columns) >= 3 else columns[0])


def story_pair_sentences(data: Path) -> dict[str, list[str]]:
    """Sentences of the story-pairs texts, by the language their row gives them."""
    by_language: dict[str, list[str]] = {}
    with (data / "story-pairs" / "train_pairs.csv").open(encoding="utf-8", newline="") as file:
        for row in csv.DictReader(file):
            for side in ("1", "2"):
                sentences = split_sentences(row[f"text{side}"])
                by_language.setdefault(row[f"lang{side}"], []).extend(sentences)
    return by_language


def sample(sentences: Iterable[str], size: int, min_letters: int, seed: int) -> list[str]:
    """A seeded sample of distinct sentences with at least `min_letters` letters."""
    pool = sorted({s for s in sentences if count_letters(s) >= min_letters})
    return random.Random(seed).sample(pool, min(size, len(pool)))


def score(sentences: list[str], expected: str, detect: Detect) -> tuple[Counter[str], list[str]]:
    """Detected languages counted, and the sentences that did not get `expected`."""
    found: Counter[str] = Counter()
    errors = []
    for sentence in sentences:
        language, _ = detect(sentence)
        found[language] += 1
        if language != expected:
            errors.append(f"{language}: {sentence}")
    return found, errors


def report_target(name: str, found: Counter[str], expected: str) -> bool:
    """Print accuracy and `und` share of one target language; True when both targets hold."""
    total = sum(found.values()) or 1
    accuracy, und = found[expected] / total, found[UNDETERMINED] / total
    wrong = ", ".join(f"{lang} {n}" for lang, n in found.most_common() if lang != expected)
    print(f"{name:<8} n={total:>5}  accuracy {accuracy:.4f}  und {und:.2%}  others: {wrong or '-'}")
    return accuracy >= TARGET_ACCURACY and und < TARGET_UND


def report_confusion(name: str, found: Counter[str], expected: str) -> None:
    """Print how often sentences of another language were taken for English or Italian."""
    total = sum(found.values()) or 1
    into = {lang: found[lang] / total for lang in ("en", "it")}
    print(f"{name:<8} n={total:>5}  accuracy {found[expected] / total:.4f}  "
          f"und {found[UNDETERMINED] / total:.2%}  into en {into['en']:.2%}  "
          f"into it {into['it']:.2%}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--per-language", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--min-sentence-letters", type=int, default=20)
    parser.add_argument("--min-letters", type=int, default=None, help="default: LanguageSettings")
    parser.add_argument("--min-prob", type=float, default=None, help="default: LanguageSettings")
    parser.add_argument("--errors", type=int, default=0, help="print this many errors per set")
    args = parser.parse_args()
    if not (args.data / "bbc-news").is_dir():
        print(f"no development data under {args.data}", file=sys.stderr)
        return 2
    defaults = LanguageSettings()
    min_letters = defaults.min_letters if args.min_letters is None else args.min_letters
    min_prob = defaults.min_prob if args.min_prob is None else args.min_prob

    def detect(text: str) -> tuple[str, float]:
        return detect_language(text, min_letters, min_prob)

    def pick(sentences: Iterable[str]) -> list[str]:
        return sample(sentences, args.per_language, args.min_sentence_letters, args.seed)

    italian = (s for name in ITALIAN_FILES for s in conll_sentences(args.data / name))
    targets = {"en": pick(bbc_sentences(args.data)), "it": pick(italian)}
    others = {lang: pick(s) for lang, s in sorted(story_pair_sentences(args.data).items())
              if lang not in targets}
    print(f"detect_language(min_letters={min_letters}, min_prob={min_prob}); sentences of "
          f">= {args.min_sentence_letters} letters, seed {args.seed}")
    started, met = time.perf_counter(), True
    for lang, sentences in {**targets, **others}.items():
        found, errors = score(sentences, lang, detect)
        if lang in targets:
            met &= report_target(lang, found, lang)
        else:
            report_confusion(lang, found, lang)
        for line in errors[: args.errors]:
            print(f"    {line[:160]}")
    print(f"targets (accuracy >= {TARGET_ACCURACY}, und < {TARGET_UND:.1%}): "
          f"{'met' if met else 'MISSED'}; {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
