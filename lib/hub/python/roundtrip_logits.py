#!/usr/bin/env python3
"""Loads a Llama checkpoint the way the Python ecosystem would and prints its logits.

    roundtrip_logits.py --repo OWNER/NAME --tokens 1,2,3   (HF_ENDPOINT, HF_TOKEN in the env)
    roundtrip_logits.py --folder DIR --tokens 1,2,3

With --repo the folder is downloaded with `huggingface_hub.snapshot_download`. The folder is
read and run by the PyTorch reference of Jikji's Llama golden file (lib/model/golden/make_golden.py,
`read_folder` and `forward`) in float64. Where `transformers` is installed, `AutoModelForCausalLM.from_pretrained`
and `AutoTokenizer.from_pretrained` load the same folder and its logits are printed too.

Prints one JSON object: {"download", "files", "logits" (T, V), "transformers": {"tokenizer" (its
class), "logits" (T, V), "error"}}; the transformers fields are null where it cannot load.
"""

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "model" / "golden"))
from make_golden import forward, read_folder  # noqa: E402  (the golden script's Llama)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo")
    ap.add_argument("--folder")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--work", default=None)
    a = ap.parse_args()
    if a.repo:
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(a.repo, local_dir=Path(a.work) / "snapshot"))
        download = "huggingface_hub.snapshot_download"
    else:
        folder = Path(a.folder)
        download = "folder"
    cfg, params = read_folder(folder)
    tokens = torch.tensor([[int(t) for t in a.tokens.split(",")]])
    with torch.no_grad():
        logits = forward(cfg, params, tokens)[0]
    hf = {"tokenizer": None, "logits": None, "error": None}
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        hf["tokenizer"] = type(AutoTokenizer.from_pretrained(folder)).__name__
        model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32)
        with torch.no_grad():
            hf["logits"] = model(tokens).logits[0].tolist()
    except Exception as e:  # not installed, or too old a torch for it: reported, not fatal
        hf["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and ".cache" not in p.parts)
    print(json.dumps({"download": download, "files": files, "logits": logits.tolist(), "transformers": hf}))


if __name__ == "__main__":
    main()
