"""Cross-checks a tokenizer.json against Hugging Face's Rust `tokenizers` (the Python package).

Usage: python3 rust_crosscheck.py TOKENIZER_JSON CASES_JSONL

CASES_JSONL holds one {"text": ..., "ids": [...]} object per line: the ids another
implementation (Jikji's encoder) gave the text, without special tokens added around it.
Prints one JSON object: lines, mismatched lines, the first mismatch, the added tokens whose id
differs from the file's, and how many lines decode back to their text. Exit status 0 when every
line agrees, 1 when not, 2 when `tokenizers` is missing or the input is unreadable.
"""

import json
import sys

try:
    from tokenizers import Tokenizer
except ImportError:
    print("rust_crosscheck.py: the Python package `tokenizers` is not installed "
          "(pip install tokenizers)", file=sys.stderr)
    sys.exit(2)


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    path, cases_path = sys.argv[1], sys.argv[2]
    try:
        tok = Tokenizer.from_file(path)
        with open(path, encoding="utf-8") as f:
            added = json.load(f).get("added_tokens", [])
        with open(cases_path, encoding="utf-8") as f:
            cases = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError, Exception) as err:  # tokenizers raises plain Exception
        print(f"rust_crosscheck.py: {err}", file=sys.stderr)
        return 2
    moved = [
        {"content": a["content"], "file": a["id"], "rust": tok.token_to_id(a["content"])}
        for a in added
        if tok.token_to_id(a["content"]) != a["id"]
    ]
    mismatched, first, lossless = 0, None, 0
    for i, case in enumerate(cases):
        ids = tok.encode(case["text"], add_special_tokens=False).ids
        if ids != case["ids"]:
            mismatched += 1
            if first is None:
                first = {"line": i + 1, "text": case["text"][:80], "rust": ids[:12],
                         "other": case["ids"][:12]}
        if tok.decode(case["ids"], skip_special_tokens=False) == case["text"]:
            lossless += 1
    print(json.dumps({
        "lines": len(cases),
        "mismatched": mismatched,
        "first_mismatch": first,
        "added_tokens_moved": len(moved),
        "first_moved": moved[:3],
        "decoded_back": lossless,
    }, ensure_ascii=False))
    return 0 if mismatched == 0 and not moved else 1


if __name__ == "__main__":
    sys.exit(main())
