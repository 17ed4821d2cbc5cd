import assert from "node:assert/strict";
import { parseYamlText } from "./yaml.ts";
import { UserError } from "./errors.ts";

Deno.test("parseYamlText() refuses a self-referring alias, alias bombs and deep nesting in one line", () => {
  const bomb = ["a: &a [x, x, x, x, x, x, x, x, x]"];
  for (let i = 0; i < 8; i++) {
    bomb.push(
      `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${
        Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(", ")
      }]`,
    );
  }
  const cases: [string, RegExp][] = [
    ["seeds: &a [*a]\n", /field "seeds.0": a YAML alias refers to the value that holds it/],
    ["a: &x {b: *x}\n", /field "a.b": a YAML alias refers/],
    [bomb.join("\n"), /not valid YAML: .*alias/i],
    ["x: " + "[".repeat(100) + "]".repeat(100) + "\n", /nested deeper than 64/],
    ["x: [1\n", /^c\.yaml: not valid YAML: /],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseYamlText(text, "c.yaml"), (err: Error) => {
      assert.ok(err instanceof UserError, String(err));
      assert.match(err.message, re);
      assert.equal(err.message.split("\n").length, 1);
      return true;
    });
  }
  // an alias to a value defined before is fine
  assert.deepEqual(parseYamlText("a: &a [1]\nb: *a\n", "c.yaml"), { a: [1], b: [1] });
});
