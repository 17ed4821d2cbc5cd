#!/usr/bin/env python3
"""Writes the whole-model golden file for Jikji's Llama (llm.c's `test_gpt2` idea).

A tiny random Hugging Face `LlamaForCausalLM` is run forward and backward in float64 with
PyTorch autograd; the inputs, the logits, the loss, every parameter and every gradient are
stored as float32, so the file is the "true" answer that an f32 implementation is checked
against (`lib/model/golden_test.ts`). The model is written out here rather than imported from
transformers, following transformers' `modeling_llama.py` and `modeling_rope_utils.py` line by
line; each function names what it mirrors.

Regenerate (deterministic: seeded, CPU, float64):

    /usr/bin/python3 lib/model/golden/make_golden.py lib/model/golden/llama_tiny.bin

Score a Hugging Face folder that Jikji wrote (config.json + model.safetensors), the same float64
model read from the folder's own files:

    /usr/bin/python3 lib/model/golden/make_golden.py --folder DIR < tokens.json > scores.json

tokens.json is {"tokens": [[id, ...], ...]} (rows of equal length, right-padded with the
config's pad_token_id where a value head reads them); scores.json has "logits" (B, T, V) when the
folder has an LM head and, for a `LlamaForSequenceClassification` folder (a `score.weight`),
"scores" (B, num_labels) read at each row's last token that is not `pad_token_id`, as
transformers pools them.

File format (version 1, little-endian), read by `lib/model/golden.ts`:

    u32 magic 0x4A4B474C ("LGKJ" in byte order; "JKGL" as a little-endian u32)
    u32 version 1
    u32 H, the header length in bytes, a multiple of 4
    H bytes of UTF-8 JSON, padded with spaces:
        {"config": {...config.json fields...}, "B": .., "T": .., "seed": ..,
         "tensors": [{"name", "dtype": "f32" | "i32", "shape", "offset"}, ...]}
    the data section: each tensor's raw bytes at `offset`, counted from the start of the data
    section (byte 12 + H), row-major.

Tensors: tokens (B, T) i32; targets (B, T) i32, the next token, -1 = ignored; logits (B*T, V);
loss (1), the mean cross-entropy over targets that are not ignored; every parameter under its
Hugging Face name; and each gradient of the loss as "grad." + name.

Shapes: B batch, T positions, C hidden_size, F intermediate_size, NH num_attention_heads,
NKV num_key_value_heads, HS head_dim, V vocab_size, L num_hidden_layers.
"""

import json
import math
import struct
import sys

import torch
import torch.nn.functional as Fn

MAGIC = 0x4A4B474C
VERSION = 1
SEED = 20240723
B, T = 2, 24

# The rope_scaling band edges are chosen so that HS/2 = 4 frequencies of theta 500000 fall in
# all three of Llama 3.1's bands: wavelengths 2*pi*theta^(2i/HS) = 6.3, 167, 4443, 118145
# against high_freq_wavelen = 256/4 = 64 and low_freq_wavelen = 256/1 = 256, i.e. one kept,
# one smoothly interpolated (smooth factor 0.18), two divided by `factor`.
CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "vocab_size": 97,
    "hidden_size": 32,
    "intermediate_size": 88,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 8,
    "hidden_act": "silu",
    "max_position_embeddings": 2048,
    "rms_norm_eps": 1e-5,
    "rope_theta": 500000.0,
    "rope_scaling": {
        "rope_type": "llama3",
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 256,
    },
    "tie_word_embeddings": False,
    "attention_bias": False,
    "mlp_bias": False,
    "torch_dtype": "float32",
}


def param_shapes(cfg):
    """Every parameter's Hugging Face name and shape, in Hugging Face order."""
    C, F, HS = cfg["hidden_size"], cfg["intermediate_size"], cfg["head_dim"]
    NH, NKV, V = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["vocab_size"]
    out = [("model.embed_tokens.weight", (V, C))]
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        out += [
            (p + "input_layernorm.weight", (C,)),
            (p + "self_attn.q_proj.weight", (NH * HS, C)),
            (p + "self_attn.k_proj.weight", (NKV * HS, C)),
            (p + "self_attn.v_proj.weight", (NKV * HS, C)),
            (p + "self_attn.o_proj.weight", (C, NH * HS)),
            (p + "post_attention_layernorm.weight", (C,)),
            (p + "mlp.gate_proj.weight", (F, C)),
            (p + "mlp.up_proj.weight", (F, C)),
            (p + "mlp.down_proj.weight", (C, F)),
        ]
    out.append(("model.norm.weight", (C,)))
    if not cfg["tie_word_embeddings"]:
        out.append(("lm_head.weight", (V, C)))
    return out


def init_params(cfg, gen):
    """Matrices N(0, 0.2^2), norm weights 1 + 0.1 N(0, 1): larger than Hugging Face's N(0, 0.02)
    and ones, so that activations and gradients are far from zero and from trivial. Each value
    is rounded to f32 first, so the f64 reference runs on exactly the weights stored."""
    params = {}
    for name, shape in param_shapes(cfg):
        z = torch.randn(shape, generator=gen, dtype=torch.float64)
        w = 1 + 0.1 * z if len(shape) == 1 else 0.2 * z
        params[name] = w.float().double()
    return params


def rope_inv_freq(cfg, dtype):
    """(HS/2,) as `_compute_default_rope_parameters` then `_compute_llama3_parameters`."""
    HS, base = cfg["head_dim"], cfg["rope_theta"]
    inv_freq = 1.0 / (base ** (torch.arange(0, HS, 2, dtype=torch.int64).to(dtype) / HS))
    rs = cfg["rope_scaling"]
    if rs is None:
        return inv_freq
    factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old_context_len = rs["original_max_position_embeddings"]
    low_freq_wavelen = old_context_len / low
    high_freq_wavelen = old_context_len / high
    wavelen = 2 * math.pi / inv_freq
    # wavelen < high_freq_wavelen: kept; wavelen > low_freq_wavelen: divided by factor
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    # in between: interpolated with a smooth factor
    smooth = (old_context_len / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * inv_freq_llama / factor + smooth * inv_freq_llama
    is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium, smoothed, inv_freq_llama)


def rope_cos_sin(cfg, T, dtype):
    """cos, sin (T, HS) as `LlamaRotaryEmbedding.forward`: the HS/2 angles, concatenated twice."""
    pos = torch.arange(T, dtype=dtype)
    freqs = pos[:, None] * rope_inv_freq(cfg, dtype)[None, :]  # (T, HS/2)
    emb = torch.cat((freqs, freqs), dim=-1)  # (T, HS)
    return emb.cos(), emb.sin()


def rotate_half(x):
    """As in modeling_llama.py: element i pairs with element i + HS/2."""
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def rms_norm(x, w, eps):
    """`LlamaRMSNorm`: weight * x * rsqrt(mean(x^2) + eps) (HF upcasts to f32; here all is f64)."""
    variance = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(variance + eps))


def attention(cfg, p, h, cos, sin):
    """`LlamaAttention` with `eager_attention_forward` and a causal mask; h (B, T, C)."""
    Bs, Ts, _ = h.shape
    NH, NKV, HS = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    q = (h @ p["q_proj"].T).view(Bs, Ts, NH, HS).transpose(1, 2)  # (B, NH, T, HS)
    k = (h @ p["k_proj"].T).view(Bs, Ts, NKV, HS).transpose(1, 2)  # (B, NKV, T, HS)
    v = (h @ p["v_proj"].T).view(Bs, Ts, NKV, HS).transpose(1, 2)  # (B, NKV, T, HS)
    q = q * cos + rotate_half(q) * sin  # apply_rotary_pos_emb, cos/sin broadcast over heads
    k = k * cos + rotate_half(k) * sin
    # repeat_kv: query head hh reads key/value head hh // (NH / NKV)
    n_rep = NH // NKV
    k = k[:, :, None].expand(Bs, NKV, n_rep, Ts, HS).reshape(Bs, NH, Ts, HS)
    v = v[:, :, None].expand(Bs, NKV, n_rep, Ts, HS).reshape(Bs, NH, Ts, HS)
    scores = (q @ k.transpose(2, 3)) * HS**-0.5  # (B, NH, T, T)
    causal = torch.ones(Ts, Ts, dtype=torch.bool).tril()
    scores = scores.masked_fill(~causal, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    out = (weights @ v).transpose(1, 2).reshape(Bs, Ts, NH * HS)  # (B, T, NH*HS)
    return out @ p["o_proj"].T


def mlp(p, h):
    """`LlamaMLP`: down(silu(gate(h)) * up(h))."""
    return (Fn.silu(h @ p["gate_proj"].T) * (h @ p["up_proj"].T)) @ p["down_proj"].T


def forward(cfg, params, tokens, head=None):
    """`LlamaForCausalLM.forward` without a cache: logits (B, T, V); with `head` (O, C), the final
    hidden states times it instead (`LlamaForSequenceClassification`'s `score`, before pooling)."""
    eps = cfg["rms_norm_eps"]
    dtype = params["model.embed_tokens.weight"].dtype
    cos, sin = rope_cos_sin(cfg, tokens.shape[1], dtype)
    x = params["model.embed_tokens.weight"][tokens]  # (B, T, C)
    for l in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{l}."
        lp = {
            k.split(".")[-2]: v for k, v in params.items() if k.startswith(pre) and "proj" in k
        }
        h = rms_norm(x, params[pre + "input_layernorm.weight"], eps)
        x = x + attention(cfg, lp, h, cos, sin)
        h = rms_norm(x, params[pre + "post_attention_layernorm.weight"], eps)
        x = x + mlp(lp, h)
    x = rms_norm(x, params["model.norm.weight"], eps)
    if head is None:
        head = params["model.embed_tokens.weight" if cfg["tie_word_embeddings"] else "lm_head.weight"]
    return x @ head.T


def run(cfg, params, tokens, targets, dtype):
    """Logits (B*T, V), loss and the gradient of every parameter, computed in `dtype`."""
    leaves = {k: v.to(dtype).clone().requires_grad_(True) for k, v in params.items()}
    logits = forward(cfg, leaves, tokens).reshape(-1, cfg["vocab_size"])
    # as Hugging Face's ForCausalLMLoss (mean over labels != -100), on targets already shifted
    loss = Fn.cross_entropy(logits, targets.reshape(-1), ignore_index=-100)
    loss.backward()
    grads = {k: v.grad.detach() for k, v in leaves.items()}
    return logits.detach(), loss.detach().reshape(1), grads


def make_batch(cfg, gen):
    """tokens (B, T) and targets (B, T): the next token of a random (B, T+1) sequence, with two
    positions set to -100 (ignored)."""
    seq = torch.randint(0, cfg["vocab_size"], (B, T + 1), generator=gen)
    tokens, targets = seq[:, :T].clone(), seq[:, 1:].clone()
    targets[0, 3] = -100
    targets[1, T - 1] = -100
    return tokens, targets


def write(path, header, tensors):
    """tensors: list of (name, dtype "f32" | "i32", tensor)."""
    entries, chunks, offset = [], [], 0
    for name, dt, t in tensors:
        a = t.detach().contiguous().to(torch.float32 if dt == "f32" else torch.int32)
        raw = a.numpy().astype("<f4" if dt == "f32" else "<i4").tobytes()
        entries.append({"name": name, "dtype": dt, "shape": list(a.shape), "offset": offset})
        chunks.append(raw)
        offset += len(raw)
    js = json.dumps({**header, "tensors": entries}, separators=(",", ":")).encode("utf-8")
    js += b" " * (-len(js) % 4)
    with open(path, "wb") as f:
        f.write(struct.pack("<III", MAGIC, VERSION, len(js)))
        f.write(js)
        for c in chunks:
            f.write(c)
    return 12 + len(js) + offset


def fill_defaults(cfg):
    """A Llama config dict with Hugging Face's defaults filled in (in place; returned)."""
    cfg.setdefault("num_key_value_heads", cfg["num_attention_heads"])
    cfg.setdefault("head_dim", cfg["hidden_size"] // cfg["num_attention_heads"])
    cfg.setdefault("rope_scaling", None)
    cfg.setdefault("rope_theta", 10000.0)
    cfg.setdefault("rms_norm_eps", 1e-6)
    cfg.setdefault("tie_word_embeddings", False)
    return cfg


def read_folder(path):
    """config.json (Hugging Face defaults filled in) and model.safetensors as float64 tensors
    (F32, F16 and BF16)."""
    with open(f"{path}/config.json") as f:
        cfg = fill_defaults(json.load(f))
    with open(f"{path}/model.safetensors", "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    params = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        buf = data[a:b]
        if t["dtype"] == "F32":
            x = torch.frombuffer(bytearray(buf), dtype=torch.float32)
        elif t["dtype"] == "F16":
            x = torch.frombuffer(bytearray(buf), dtype=torch.float16).float()
        elif t["dtype"] == "BF16":
            x = torch.frombuffer(bytearray(buf), dtype=torch.bfloat16).float()
        else:
            sys.exit(f"{path}/model.safetensors: {name}: dtype {t['dtype']} not supported")
        params[name] = x.reshape(t["shape"]).double()
    return cfg, params


def score_folder(folder):
    """Logits (and a value head's pooled scores) of a Hugging Face Llama folder on stdin's rows."""
    cfg, params = read_folder(folder)
    tokens = torch.tensor(json.load(sys.stdin)["tokens"], dtype=torch.int64)
    out = {}
    with torch.no_grad():
        if cfg["tie_word_embeddings"] or "lm_head.weight" in params:
            out["logits"] = forward(cfg, params, tokens).tolist()
        if "score.weight" in params:
            values = forward(cfg, params, tokens, head=params["score.weight"])  # (B, T, labels)
            pad = cfg.get("pad_token_id")
            non_pad = tokens != pad if pad is not None else torch.ones_like(tokens, dtype=torch.bool)
            last = (torch.arange(tokens.shape[1])[None, :] * non_pad).argmax(-1)
            out["scores"] = values[torch.arange(tokens.shape[0]), last].tolist()
    json.dump(out, sys.stdout)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--folder":
        score_folder(sys.argv[2])
        return
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OUT.bin | --folder DIR < tokens.json")
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    params = init_params(CONFIG, gen)
    tokens, targets = make_batch(CONFIG, gen)
    logits, loss, grads = run(CONFIG, params, tokens, targets, torch.float64)

    # How far PyTorch's own f32 run is from this f64 one, in units of u * max|want|
    # (u = 2^-24): the scale that golden_test.ts's tolerances are set against.
    l32, s32, g32 = run(CONFIG, params, tokens, targets, torch.float32)
    u = 2.0**-24
    got = {"logits": l32, "loss": s32, **{"grad." + k: v for k, v in g32.items()}}
    want = {"logits": logits, "loss": loss, **{"grad." + k: v for k, v in grads.items()}}
    print(f"loss {loss.item():.6f}; PyTorch f32 vs f64, max|err| / (u * max|want|):")
    for k in want:
        scale = want[k].abs().max().item()
        err = (got[k].double() - want[k]).abs().max().item()
        print(f"  {k:48s} max|want| {scale:9.3e}  {err / (u * scale):7.2f}")

    tensors = [
        ("tokens", "i32", tokens),
        ("targets", "i32", torch.where(targets == -100, -1, targets)),
        ("logits", "f32", logits),
        ("loss", "f32", loss),
    ]
    tensors += [(k, "f32", v) for k, v in params.items()]
    tensors += [("grad." + k, "f32", v) for k, v in grads.items()]
    size = write(sys.argv[1], {"config": CONFIG, "B": B, "T": T, "seed": SEED}, tensors)
    print(f"wrote {sys.argv[1]} ({size} bytes, {len(tensors)} tensors)")


if __name__ == "__main__":
    main()
