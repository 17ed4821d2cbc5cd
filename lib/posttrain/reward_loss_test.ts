import assert from "node:assert/strict";
import { rewardLoss, rewardMetrics } from "./reward_loss.ts";

const sig = (x: number) => 1 / (1 + Math.exp(-x));

Deno.test("rewardLoss() equals −log σ(r_c − r_r − m) + c·(r_c + r_r)² by hand", () => {
  assert.ok(
    Math.abs(rewardLoss(0.75, -0.5, { margin: 0, center: 0 }).loss + Math.log(sig(1.25))) < 1e-12,
  );
  assert.ok(
    Math.abs(rewardLoss(0.75, -0.5, { margin: 0.5, center: 0 }).loss + Math.log(sig(0.75))) < 1e-12,
  );
  const c = rewardLoss(0.75, -0.5, { margin: 0, center: 0.01 });
  assert.ok(Math.abs(c.loss - (-Math.log(sig(1.25)) + 0.01 * 0.0625)) < 1e-12);
  assert.equal(rewardLoss(0, 0, { margin: 0, center: 0 }).loss.toFixed(6), "0.693147"); // log 2
  // far in either tail stays finite
  assert.ok(Number.isFinite(rewardLoss(-800, 800, { margin: 0, center: 0 }).loss));
  assert.ok(rewardLoss(800, -800, { margin: 0, center: 0 }).loss < 1e-300);
});

Deno.test("rewardLoss() derivatives agree with central finite differences", () => {
  for (const p of [{ margin: 0, center: 0 }, { margin: 0.3, center: 0.05 }]) {
    for (const [rc, rr] of [[0.4, -1.1], [-2, 1.5], [3, 3]]) {
      const r = rewardLoss(rc, rr, p), h = 1e-6;
      const f = (a: number, b: number) => rewardLoss(a, b, p).loss;
      const nc = (f(rc + h, rr) - f(rc - h, rr)) / (2 * h);
      const nr = (f(rc, rr + h) - f(rc, rr - h)) / (2 * h);
      assert.ok(Math.abs(nc - r.dRc) < 1e-8, `dRc ${r.dRc} vs ${nc}`);
      assert.ok(Math.abs(nr - r.dRr) < 1e-8, `dRr ${r.dRr} vs ${nr}`);
    }
  }
});

Deno.test("rewardMetrics() gives accuracy, its standard error and the mean margin", () => {
  const m = rewardMetrics([
    { chosen: 1, rejected: 0 },
    { chosen: 0, rejected: 2 },
    { chosen: 3, rejected: 1 },
    { chosen: 1, rejected: 0.5 },
  ]);
  assert.equal(m.accuracy, 0.75);
  assert.ok(Math.abs(m.accuracy_se - Math.sqrt(0.75 * 0.25 / 3)) < 1e-12);
  assert.equal(m.margin, (1 - 2 + 2 + 0.5) / 4);
  assert.equal(m.pairs, 4);
});
