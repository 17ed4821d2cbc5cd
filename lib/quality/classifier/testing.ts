/**
 * Test fixtures of the classifier: whether Debian's `fasttext` can be run (under `CI=true` its
 * absence is a failure, not a skip) and a seeded three-label corpus of Korean, English and mixed
 * lines in fastText's training format.
 *
 * @module
 */

import { mulberry32 } from "./prng.ts";

/** True when `fasttext` runs; false (with a loud warning) when not, except under CI, which throws. */
export async function fasttextAvailable(): Promise<boolean> {
  try {
    await new Deno.Command("fasttext", { stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    if (Deno.env.get("CI") === "true") throw new Error("fasttext is not installed (apt fasttext)");
    console.warn("SKIPPED: fasttext is not installed (apt-get install -y fasttext)");
    return false;
  }
}

const KO = ["한국어", "문장", "입니다", "서울", "부산", "날씨", "좋다", "학교", "공부", "책을"];
const EN = ["the", "english", "line", "city", "weather", "good", "school", "study", "book"];
const MIX = ["데이터", "data", "모델", "model", "학습", "train", "결과", "result"];

/** `n` lines `__label__{ko,en,mix} words…`, the same for the same seed. */
export function labelledLines(n: number, seed = 1): string[] {
  const rnd = mulberry32(seed);
  const pick = (ws: string[], k: number) =>
    Array.from({ length: k }, () => ws[Math.floor(rnd() * ws.length)]).join(" ");
  return Array.from({ length: n }, () => {
    const r = rnd(), k = 2 + Math.floor(rnd() * 7);
    if (r < 0.4) return `__label__ko ${pick([...KO, ...MIX], k)}`;
    if (r < 0.8) return `__label__en ${pick([...EN, ...MIX], k)}`;
    return `__label__mix ${pick(MIX, k)}`;
  });
}
