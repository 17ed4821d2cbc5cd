#!/usr/bin/env python3
"""The PyTorch peer of `deno task bench gpu`: every PyTorch figure of that suite, from one process.

    python3 lib/bench/gpu_peer.py SPEC.json > results.jsonl

SPEC.json (written by lib/bench/gpu_bench.ts) lists the work; each result is one JSON line with
"part" and the figures, or "error" (that item failed, the others go on) or "skipped" (why not):

- {"part": "env"}: torch and transformers versions, the device;
- "gemm" items {name, m, n, k}: C (m, n) = A (m, k) · Wᵀ, W (n, k), as a linear layer, in
  "fp32" (TF32 off: the like-for-like peer of WGSL's f32 FMAs) and "bf16" (tensor cores);
- "attention" items {name, B, T, NH, NKV, D}: causal GQA attention in bf16, forward and
  forward + backward, with torch.nn.functional.scaled_dot_product_attention (an explicit
  matmul-softmax-matmul where torch is older than 2.0 and has none);
- "train" items {name, config, B, T, steps, lr, tokens, targets}: eager training steps with
  AdamW (β 0.9/0.95, eps 1e-5, weight decay 0.1, clipping at 1.0) on the given tokens in "fp32"
  (TF32 off) and "bf16" (autocast over fp32 weights); tokens/s over the steps after the first and
  the peak CUDA memory. The model is transformers' LlamaForCausalLM (sdpa attention) when
  transformers imports, else lib/model/golden/make_golden.py's PyTorch Llama (CPU only);
- "parity" {dir, config, B, T, tokens}: a random LlamaForCausalLM saved with save_pretrained to
  dir, and its float64 logits (B*T, V) as little-endian f32 in dir/ref_logits.f32; skipped (and
  said so) where transformers does not import.

Timing: CUDA events around the timed repeats on a GPU; wall clock on the CPU.
"""

import json
import math
import os
import sys
import time
import traceback

import torch
import torch.nn.functional as Fn

HERE = os.path.dirname(os.path.abspath(__file__))


def emit(obj):
    print(json.dumps(obj), flush=True)


def fail(part, name, err):
    emit({"part": part, "name": name, "error": f"{type(err).__name__}: {err}"[:500]})
    traceback.print_exc(file=sys.stderr)


class Timer:
    """Milliseconds of work on `device`: CUDA events on a GPU, wall clock on the CPU."""

    def __init__(self, device):
        self.cuda = device.type == "cuda"

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def ms(self, fn, repeats):
        """Median of `repeats` timings of fn() after one warm-up call."""
        fn()
        self.sync()
        times = []
        for _ in range(repeats):
            if self.cuda:
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record()
                fn()
                b.record()
                torch.cuda.synchronize()
                times.append(a.elapsed_time(b))
            else:
                t0 = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        return times[len(times) // 2]


def fp32_strict():
    """FP32 matmuls without TF32 (the like-for-like peer of f32 WGSL)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if hasattr(torch, "set_float32_matmul_precision"):
        torch.set_float32_matmul_precision("highest")


def gemm(spec, device, timer):
    reps = spec.get("gemm_repeats", 3)
    for item in spec.get("gemm", []):
        m, n, k = item["m"], item["n"], item["k"]
        for dtype_name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            try:
                a = torch.randn(m, k, device=device, dtype=dtype)
                w = torch.randn(n, k, device=device, dtype=dtype)
                ms = timer.ms(lambda: a @ w.T, reps)
                emit({"part": "gemm", "name": item["name"], "dtype": dtype_name, "ms": ms,
                      "tflops": 2 * m * n * k / ms / 1e9})
                del a, w
            except Exception as err:  # one shape failing must not hide the others
                fail("gemm", f"{item['name']} {dtype_name}", err)
            if device.type == "cuda":
                torch.cuda.empty_cache()


def _attention_fn():
    """(impl name, f(q, k, v) causal GQA) with q (B, NH, T, D), k and v (B, NKV, T, D)."""
    sdpa = getattr(Fn, "scaled_dot_product_attention", None)

    def expand(q, k, v):
        rep = q.shape[1] // k.shape[1]
        return k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)

    if sdpa is not None:
        def f(q, k, v):
            try:
                return sdpa(q, k, v, is_causal=True, enable_gqa=True)
            except TypeError:  # torch < 2.5 has no enable_gqa
                k2, v2 = expand(q, k, v)
                return sdpa(q, k2, v2, is_causal=True)
        return "scaled_dot_product_attention", f

    def manual(q, k, v):
        k2, v2 = expand(q, k, v)
        T = q.shape[2]
        s = (q @ k2.transpose(-1, -2)) * q.shape[-1] ** -0.5
        mask = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
        s = s.masked_fill(~mask, float("-inf"))
        return torch.softmax(s.float(), dim=-1).to(q.dtype) @ v2
    return "matmul-softmax-matmul (torch has no scaled_dot_product_attention)", manual


def attention(spec, device, timer):
    impl, f = _attention_fn()
    reps = spec.get("attention_repeats", 3)
    for item in spec.get("attention", []):
        try:
            B, T, NH, NKV, D = (item[x] for x in ("B", "T", "NH", "NKV", "D"))
            dt = torch.bfloat16
            q = torch.randn(B, NH, T, D, device=device, dtype=dt, requires_grad=True)
            k = torch.randn(B, NKV, T, D, device=device, dtype=dt, requires_grad=True)
            v = torch.randn(B, NKV, T, D, device=device, dtype=dt, requires_grad=True)
            do = torch.randn(B, NH, T, D, device=device, dtype=dt)
            with torch.no_grad():
                fwd = timer.ms(lambda: f(q, k, v), reps)

            def both():
                q.grad = k.grad = v.grad = None
                f(q, k, v).backward(do)
            fb = timer.ms(both, reps)
            emit({"part": "attention", "name": item["name"], "impl": impl, "fwd_ms": fwd,
                  "fwdbwd_ms": fb})
            del q, k, v, do
        except Exception as err:
            fail("attention", item["name"], err)


def _transformers():
    """The transformers module, or the reason it does not import."""
    try:
        import transformers
        return transformers, None
    except Exception as err:
        return None, f"{type(err).__name__}: {err}"


def _hf_config(transformers, cfg, attn):
    """A LlamaConfig from config.json fields, with rope scaling in the form this version takes."""
    cfg = dict(cfg)
    major = int(transformers.__version__.split(".")[0])
    rope_theta = cfg.pop("rope_theta", 10000.0)
    rope_scaling = cfg.pop("rope_scaling", None)
    for k in ("architectures", "model_type", "torch_dtype", "dtype"):
        cfg.pop(k, None)
    if major >= 5:
        cfg["rope_parameters"] = {"rope_type": "default", "rope_theta": rope_theta,
                                  **(rope_scaling or {})}
    else:
        cfg["rope_theta"], cfg["rope_scaling"] = rope_theta, rope_scaling
    return transformers.LlamaConfig(**cfg, attn_implementation=attn)


def _golden_model(cfg, device):
    """make_golden.py's PyTorch Llama as (params dict, forward(tokens) → logits)."""
    sys.path.insert(0, os.path.join(HERE, "..", "model", "golden"))
    import make_golden as g
    full = g.fill_defaults(dict(cfg))
    params = {}
    for name, shape in g.param_shapes(full):
        w = torch.ones(shape) if len(shape) == 1 else torch.randn(shape) * 0.02
        params[name] = w.to(device).requires_grad_(True)
    return list(params.values()), lambda tokens: g.forward(full, params, tokens)


def train(spec, device, timer):
    transformers, why = _transformers()
    for item in spec.get("train", []):
        for dtype_name in ("fp32", "bf16"):
            name = f"{item['name']} {dtype_name}"
            try:
                _train_one(item, dtype_name, device, timer, transformers, why)
            except Exception as err:
                fail("train", name, err)
            if device.type == "cuda":
                torch.cuda.empty_cache()


def _train_one(item, dtype_name, device, timer, transformers, why):
    B, T, steps = item["B"], item["T"], item["steps"]
    tokens = torch.tensor(item["tokens"], dtype=torch.int64, device=device).reshape(B, T)
    targets = torch.tensor(item["targets"], dtype=torch.int64, device=device).reshape(B, T)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    torch.manual_seed(0)
    if transformers is not None:
        hf = _hf_config(transformers, item["config"], "sdpa")
        with device:  # built on the GPU, not initialised on the CPU and copied
            model = transformers.LlamaForCausalLM(hf)
        params = list(model.parameters())
        forward = lambda t: model(input_ids=t).logits
        impl = f"transformers {transformers.__version__} LlamaForCausalLM (sdpa), eager"
    elif device.type == "cpu":
        params, forward = _golden_model(item["config"], device)
        impl = f"make_golden.py PyTorch Llama, eager (transformers: {why})"
    else:
        raise RuntimeError(f"transformers is needed on a GPU ({why})")
    opt = torch.optim.AdamW(params, lr=item.get("lr", 1e-4), betas=(0.9, 0.95), eps=1e-5,
                            weight_decay=0.1)
    autocast = dtype_name == "bf16"
    losses, times = [], []
    for s in range(steps):
        timer.sync()
        t0 = time.perf_counter()
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
            logits = forward(tokens)
        loss = Fn.cross_entropy(logits.float().reshape(B * T, -1), targets.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())  # .item() waits for the step
        times.append(time.perf_counter() - t0)
    timed = times[1:] if len(times) > 1 else times
    emit({
        "part": "train", "name": item["name"], "dtype": dtype_name, "impl": impl,
        "tokens_per_s": B * T / (sum(timed) / len(timed)), "step_s": sum(timed) / len(timed),
        "peak_bytes": torch.cuda.max_memory_allocated() if device.type == "cuda" else None,
        "loss_first": losses[0], "loss_last": losses[-1], "steps": steps,
    })


def parity(spec, _device):
    item = spec.get("parity")
    if not item:
        return
    transformers, why = _transformers()
    if transformers is None:
        emit({"part": "parity", "skipped": f"transformers not importable ({why})"})
        return
    try:
        torch.manual_seed(item.get("seed", 0))
        model = transformers.LlamaForCausalLM(_hf_config(transformers, item["config"], "eager"))
        with torch.no_grad():  # larger than the default N(0, 0.02) so the logits are not flat
            for name, p in model.named_parameters():
                if p.dim() == 1:
                    p.copy_(1 + 0.1 * torch.randn_like(p))
                else:
                    p.normal_(0, item.get("std", 0.05))
        model.save_pretrained(item["dir"])  # safetensors: the default since transformers 4.35
        tokens = torch.tensor(item["tokens"], dtype=torch.int64).reshape(item["B"], item["T"])
        with torch.no_grad():
            logits = model.double()(input_ids=tokens).logits  # float64 on the CPU
        logits.reshape(-1, logits.shape[-1]).float().numpy().astype("<f4").tofile(
            os.path.join(item["dir"], "ref_logits.f32"))
        with open(os.path.join(item["dir"], "config.json")) as f:
            keys = sorted(json.load(f).keys())
        emit({"part": "parity", "dir": item["dir"], "shape": list(logits.shape),
              "impl": f"transformers {transformers.__version__} LlamaForCausalLM, float64 (CPU)",
              "config_keys": keys})
    except Exception as err:
        fail("parity", "parity", err)


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} SPEC.json")
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    want = spec.get("device", "auto")
    device = torch.device("cuda" if want == "auto" and torch.cuda.is_available() else
                          ("cpu" if want == "auto" else want))
    fp32_strict()
    if device.type == "cpu":
        torch.set_num_threads(spec.get("threads", torch.get_num_threads()))
    transformers, why = _transformers()
    emit({"part": "env", "torch": torch.__version__, "device": str(device),
          "device_name": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
          "transformers": transformers.__version__ if transformers else None,
          "transformers_error": why})
    timer = Timer(device)
    for part in spec.get("parts", ["gemm", "attention", "train", "parity"]):
        t0 = time.perf_counter()
        {"gemm": gemm, "attention": attention, "train": train,
         "parity": lambda s, d, _t: parity(s, d)}[part](spec, device, timer)
        emit({"part": "time", "name": part, "s": time.perf_counter() - t0})


if __name__ == "__main__":
    main()
