"""Expected SQuAD v1.1 and KorQuAD 1.0 scores for lib/eval/testdata/squad_sample.json.

Written from the published algorithms (not copied): SQuAD v1.1's evaluation lower-cases the
answer, drops every character of Python's string.punctuation, drops the whole words a, an and the
(re's Unicode \\b), and collapses whitespace; exact match compares the normalized strings and F1 is
the harmonic mean of precision and recall of the shared tokens (multiset), 0 when none is shared;
each prediction takes its best score over the gold answers. KorQuAD 1.0 reports the same F1 over
characters after turning quotes and brackets into spaces, lower-casing, dropping punctuation and
then all whitespace.

Run: python3 lib/eval/squad_reference.py  (prints one JSON object per sample). The values are
pasted into lib/eval/squad_metrics_test.ts; the test also runs this script when python3 exists.
"""

import json
import re
import string
import sys
from collections import Counter
from pathlib import Path

PUNCT = set(string.punctuation)


def squad_normalize(s):
    s = s.lower()
    s = "".join(c for c in s if c not in PUNCT)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def bag_f1(pred, gold):
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    p = same / len(pred)
    r = same / len(gold)
    return 2 * p * r / (p + r)


def squad_f1(pred, gold):
    return bag_f1(squad_normalize(pred).split(), squad_normalize(gold).split())


def squad_exact(pred, gold):
    return float(squad_normalize(pred) == squad_normalize(gold))


KO_SYMBOLS = "'\"《》<>〈〉()‘’"


def ko_chars(s):
    for c in KO_SYMBOLS:
        s = s.replace(c, " ")
    s = s.lower()
    s = "".join(c for c in s if c not in PUNCT)
    return list("".join(s.split()))


def char_f1(pred, gold):
    return bag_f1(ko_chars(pred), ko_chars(gold))


def main():
    path = Path(__file__).parent / "testdata" / "squad_sample.json"
    for item in json.loads(path.read_text(encoding="utf-8")):
        pred, golds = item["pred"], item["golds"]
        out = {
            "exact": max(squad_exact(pred, g) for g in golds),
            "f1": round(max(squad_f1(pred, g) for g in golds), 12),
            "char_f1": round(max(char_f1(pred, g) for g in golds), 12),
        }
        sys.stdout.write(json.dumps(out) + "\n")


main()
