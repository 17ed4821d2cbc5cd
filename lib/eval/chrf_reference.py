"""Expected chrF values for lib/eval/testdata/chrf_sample.json, from sacrebleu itself.

Needs sacrebleu (not a dependency of the project: run once with it on PYTHONPATH, e.g.
`pip install --target /tmp/sb sacrebleu && PYTHONPATH=/tmp/sb python3 lib/eval/chrf_reference.py`).
Prints each segment's sentence chrF and, last, the corpus chrF over all of them — what lm-eval's
`chrf` aggregation returns (sacrebleu.corpus_chrf with one reference stream per gold position).
The values are pasted into lib/eval/chrf_test.ts.
"""

import json
from pathlib import Path

import sacrebleu

sample = json.loads((Path(__file__).parent / "testdata" / "chrf_sample.json").read_text("utf-8"))
for item in sample:
    print(json.dumps({"sentence": sacrebleu.sentence_chrf(item["pred"], item["golds"]).score}))
width = max(len(x["golds"]) for x in sample)
# Reference streams as sacrebleu wants them (equal lengths): a segment with fewer references
# repeats its first, which cannot change which reference scores best.
streams = [[x["golds"][i] if i < len(x["golds"]) else x["golds"][0] for x in sample] for i in range(width)]
print(json.dumps({"corpus": sacrebleu.corpus_chrf([x["pred"] for x in sample], streams).score}))
