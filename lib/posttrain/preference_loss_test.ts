import assert from "node:assert/strict";
import {
  defaultPreferenceParams,
  PREFERENCE_LOSSES,
  preferenceLoss,
  preferenceMetrics,
} from "./preference_loss.ts";

const p = { pc: -12.5, pr: -15.25, lc: 5, lr: 7, rc: -13, rr: -14 };
const sig = (x: number) => 1 / (1 + Math.exp(-x));

Deno.test("preferenceLoss() equals the hand formulas of TRL and Thunder-LLM on fixed log-probs", () => {
  const b = 0.1, g = 0.5, hp = { beta: b, gamma: g };
  const z = (p.pc - p.rc) - (p.pr - p.rr); // 0.5 + 1.25 = 1.75
  const want: Record<string, number> = {
    sigmoid: -Math.log(sig(b * z)),
    ipo: ((p.pc / p.lc - p.pr / p.lr) - (p.rc / p.lc - p.rr / p.lr) - 1 / (2 * b)) ** 2,
    hinge: Math.max(0, 1 - b * z),
    thunder: -Math.log(sig(b * (p.pc - p.pr) - g)),
    simpo: -Math.log(sig(2 * (p.pc / p.lc - p.pr / p.lr) - g)),
  };
  for (const name of PREFERENCE_LOSSES) {
    const params = name === "simpo" ? { beta: 2, gamma: g } : hp;
    const r = preferenceLoss(name, p, params);
    assert.ok(Math.abs(r.loss - want[name]) < 1e-12, `${name}: ${r.loss} vs ${want[name]}`);
  }
  assert.equal(want.sigmoid.toFixed(6), "0.609470"); // −log σ(0.175)
  const m = preferenceMetrics([preferenceLoss("sigmoid", p, hp)]);
  assert.ok(
    Math.abs(m["rewards/chosen"] - 0.05) < 1e-12 && Math.abs(m["rewards/rejected"] + 0.125) < 1e-12,
  );
  assert.equal(m["rewards/accuracies"], 1);
});

Deno.test("preferenceLoss() derivatives agree with central finite differences", () => {
  for (const name of PREFERENCE_LOSSES) {
    const hp = defaultPreferenceParams(name);
    const r = preferenceLoss(name, p, hp);
    const h = 1e-5;
    const f = (dc: number, dr: number) =>
      preferenceLoss(name, { ...p, pc: p.pc + dc, pr: p.pr + dr }, hp).loss;
    const nc = (f(h, 0) - f(-h, 0)) / (2 * h), nr = (f(0, h) - f(0, -h)) / (2 * h);
    assert.ok(Math.abs(nc - r.dPc) < 1e-7, `${name} dPc ${r.dPc} vs ${nc}`);
    assert.ok(Math.abs(nr - r.dPr) < 1e-7, `${name} dPr ${r.dPr} vs ${nr}`);
  }
});

Deno.test("preferenceLoss() refuses a reference loss without reference log-probs", () => {
  assert.throws(
    () => preferenceLoss("sigmoid", { pc: 1, pr: 2, lc: 1, lr: 1 }, { beta: 0.1, gamma: 0 }),
    /needs the reference model/,
  );
});
