import assert from "node:assert/strict";
import {
  configJsonText,
  parameterCount,
  parseLlamaConfig,
  readLlamaConfig,
  ropeInvFreq,
} from "./config.ts";
import { UserError } from "../io/errors.ts";

const base = {
  hidden_size: 64,
  intermediate_size: 128,
  num_attention_heads: 4,
  num_hidden_layers: 2,
  vocab_size: 300,
};

Deno.test("parseLlamaConfig() fills Hugging Face defaults", () => {
  const cfg = parseLlamaConfig(base);
  assert.equal(cfg.head_dim, 16);
  assert.equal(cfg.num_key_value_heads, 4);
  assert.equal(cfg.rms_norm_eps, 1e-6);
  assert.equal(cfg.rope_theta, 10000);
  assert.equal(cfg.tie_word_embeddings, false);
  assert.equal(cfg.rope_scaling, null);
});

Deno.test("parseLlamaConfig() reads transformers 5's rope_parameters as rope_theta + rope_scaling", () => {
  const llama3 = {
    factor: 8.0,
    low_freq_factor: 1.0,
    high_freq_factor: 4.0,
    original_max_position_embeddings: 8192,
  };
  const v5 = parseLlamaConfig({
    ...base,
    rope_parameters: { rope_type: "llama3", rope_theta: 500000.0, ...llama3 },
  });
  const v4 = parseLlamaConfig({
    ...base,
    rope_theta: 500000.0,
    rope_scaling: { rope_type: "llama3", ...llama3 },
  });
  assert.deepEqual(v5, v4);
  const plain = parseLlamaConfig({
    ...base,
    rope_parameters: { rope_type: "default", rope_theta: 2e5 },
  });
  assert.equal(plain.rope_theta, 2e5);
  assert.equal(plain.rope_scaling, null);
  for (
    const [rp, re] of [
      [{ rope_type: "yarn", rope_theta: 1e4, factor: 2 }, /rope_scaling.rope_type/],
      [
        { rope_type: "default", rope_theta: 1e4, factor: 2 },
        /rope_parameters: rope_type "default"/,
      ],
      [[1], /rope_parameters: expected an object/],
    ] as [unknown, RegExp][]
  ) {
    assert.throws(() => parseLlamaConfig({ ...base, rope_parameters: rp }, "c.json"), re);
  }
  assert.throws(
    () => parseLlamaConfig({ ...base, rope_theta: 1e4, rope_parameters: { rope_theta: 5e5 } }),
    /rope_parameters.rope_theta: 500000 disagrees with rope_theta/,
  );
});

Deno.test("parseLlamaConfig() refuses bad fields with one line naming file and field", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...base, hidden_size: undefined }, /c\.json: hidden_size: missing/],
    [{ ...base, num_key_value_heads: 3 }, /num_key_value_heads: 3 must divide/],
    [{ ...base, hidden_size: 66 }, /hidden_size: 66 is not divisible/],
    [{ ...base, hidden_act: "gelu" }, /hidden_act: only "silu"/],
    [{ ...base, attention_bias: true }, /attention_bias: biases are not supported/],
    [{ ...base, hiden_size: 3 }, /hiden_size: unknown field/],
    [{ ...base, vocab_size: 1.5 }, /vocab_size: expected an integer/],
    [{ ...base, rope_scaling: { rope_type: "yarn", factor: 2 } }, /rope_scaling.rope_type/],
    [{ ...base, rope_scaling: { rope_type: "llama3", factor: 8 } }, /rope_scaling.low_freq_factor/],
    [{ ...base, model_type: "gpt2" }, /model_type/],
  ];
  for (const [raw, re] of cases) {
    assert.throws(() => parseLlamaConfig(raw, "c.json"), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, re);
      return true;
    });
  }
});

Deno.test("ropeInvFreq() applies Llama 3.1 scaling by wavelength band", () => {
  const rope_scaling = {
    rope_type: "llama3",
    factor: 8,
    low_freq_factor: 1,
    high_freq_factor: 4,
    original_max_position_embeddings: 8192,
  };
  const plain = ropeInvFreq(parseLlamaConfig({ ...base, head_dim: 128, rope_theta: 500000 }));
  const scaled = ropeInvFreq(
    parseLlamaConfig({ ...base, head_dim: 128, rope_theta: 500000, rope_scaling }),
  );
  assert.equal(plain.length, 64);
  assert.equal(plain[1], 1 / Math.pow(500000, 2 / 128));
  for (let i = 0; i < 64; i++) {
    const wave = 2 * Math.PI / plain[i];
    if (wave < 8192 / 4) assert.equal(scaled[i], plain[i]);
    else if (wave > 8192) assert.ok(Math.abs(scaled[i] - plain[i] / 8) < 1e-18);
    else assert.ok(scaled[i] < plain[i] && scaled[i] > plain[i] / 8, `band ${i}`);
  }
});

Deno.test("readLlamaConfig() reads the shipped presets", async () => {
  const tiny = await readLlamaConfig("data/configs/llama-tiny.json");
  assert.equal(tiny.num_key_value_heads, 2);
  const m124 = await readLlamaConfig("data/configs/llama-124m.json");
  const n = parameterCount(m124);
  assert.ok(n > 110e6 && n < 135e6, `124M preset has ${n} parameters`);
});

Deno.test("configJsonText() writes float fields as floats and parses back to the same config", () => {
  const cfg = parseLlamaConfig({
    hidden_size: 8,
    intermediate_size: 16,
    num_attention_heads: 2,
    num_hidden_layers: 1,
    vocab_size: 10,
    rope_theta: 500000,
    rms_norm_eps: 1e-5,
    rope_scaling: {
      rope_type: "llama3",
      factor: 8,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 8192,
    },
  });
  const text = configJsonText(cfg);
  for (const f of ['"rope_theta": 500000.0', '"factor": 8.0', '"low_freq_factor": 1.0']) {
    assert.ok(text.includes(f), `${f} in\n${text}`);
  }
  assert.ok(
    text.includes('"original_max_position_embeddings": 8192,') ||
      text.includes('"original_max_position_embeddings": 8192\n'),
  );
  assert.deepEqual(parseLlamaConfig(JSON.parse(text)), cfg);
});

Deno.test("parseLlamaConfig() refuses absurd sizes, wrong types and nested ids in one line", () => {
  const base = {
    hidden_size: 16,
    intermediate_size: 32,
    num_attention_heads: 2,
    num_hidden_layers: 1,
    vocab_size: 260,
  };
  let deep: unknown = 1;
  for (let i = 0; i < 20_000; i++) deep = [deep];
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ hidden_size: 2 ** 40 }, /hidden_size: expected an integer in 1…65536/],
    [{ vocab_size: 2 ** 53 }, /vocab_size: expected an integer/],
    [{ rope_theta: 1e300 }, /rope_theta: expected a number above 1 and at most 10000000000/],
    [{ use_cache: [] }, /use_cache: expected true or false/],
    [{ bos_token_id: deep }, /bos_token_id: expected a token id/],
    [{ eos_token_id: 300 }, /eos_token_id: a token id ≥ vocab_size 260/],
    [{ torch_dtype: "float1e300" }, /torch_dtype: expected one of/],
    [{ hidden_act: null }, /hidden_act: null/],
  ];
  for (const [extra, re] of cases) {
    assert.throws(() => parseLlamaConfig({ ...base, ...extra }, "config.json"), (err: Error) => {
      assert.ok(err instanceof UserError, String(err));
      assert.match(err.message, re);
      assert.equal(err.message.split("\n").length, 1);
      return true;
    });
  }
});
