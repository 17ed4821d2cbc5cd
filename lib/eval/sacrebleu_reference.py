"""Expected chrF and BLEU values for lib/eval/testdata/translation_sample.json, from sacrebleu.

Needs sacrebleu (not a dependency of the project: run once with it on PYTHONPATH, e.g.
`pip install --target /tmp/sb sacrebleu && PYTHONPATH=/tmp/sb python3 lib/eval/sacrebleu_reference.py`).
Prints each segment's sentence chrF, then the corpus chrF and corpus BLEU over all of them — what
lm-eval's `chrf` and `bleu` aggregations return (sacrebleu.corpus_chrf / corpus_bleu with one
reference stream per gold position). The values are pasted into lib/eval/sacrebleu_test.ts.
"""

import json
from pathlib import Path

import sacrebleu

path = Path(__file__).parent / "testdata" / "translation_sample.json"
sample = json.loads(path.read_text("utf-8"))
for item in sample:
    print(json.dumps({"sentence_chrf": sacrebleu.sentence_chrf(item["pred"], item["golds"]).score}))
width = max(len(x["golds"]) for x in sample)
# Reference streams as sacrebleu wants them (equal lengths): a segment with fewer references
# repeats its first, which changes neither the best chrF reference nor BLEU's clipped counts
# and closest length.
streams = [[x["golds"][i] if i < len(x["golds"]) else x["golds"][0] for x in sample] for i in range(width)]
preds = [x["pred"] for x in sample]
print(json.dumps({"corpus_chrf": sacrebleu.corpus_chrf(preds, streams).score}))
print(json.dumps({"corpus_bleu": sacrebleu.corpus_bleu(preds, streams).score}))
