import assert from "node:assert/strict";
import { helpText, parseCommand, readConfigFile } from "./options.ts";
import { UserError } from "../io/errors.ts";

const spec = {
  name: "demo",
  summary: "test command",
  positionals: "INPUT",
  options: {
    max_pages: { type: "integer", default: 10, min: 1, description: "pages" },
    ratio: { type: "number", default: 0.5, min: 0, max: 1, description: "a ratio" },
    mode: { type: "string", default: "fast", choices: ["fast", "slow"], description: "mode" },
    gzip: { type: "boolean", default: true, description: "compress" },
    hosts: { type: "string[]", default: [], description: "hosts" },
    steps: {
      type: "any",
      description: "pipeline steps",
      validate: (v: unknown) => Array.isArray(v) ? undefined : "a list of steps",
    },
  },
} as const;

async function yamlFile(text: string): Promise<string> {
  const path = `${await Deno.makeTempDir()}/cfg.yaml`;
  await Deno.writeTextFile(path, text);
  return path;
}

async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof UserError, `expected a UserError, got ${err}`);
    assert.ok(!err.message.includes("\n"), "the error must be one line");
    return err.message;
  }
  throw new Error("expected an error");
}

Deno.test("parseCommand() layers defaults < config < flags", async () => {
  const cfg = await yamlFile("max_pages: 20\nmode: slow\nhosts: [a.kr]\nsteps: [{rules: {}}]\n");
  const { options, positionals, configPath } = await parseCommand(spec, [
    "in.jsonl",
    "--config",
    cfg,
    "--max-pages=30",
    "--no-gzip",
    "--hosts",
    "b.kr,c.kr",
  ]);
  assert.equal(configPath, cfg);
  assert.deepEqual(positionals, ["in.jsonl"]);
  assert.deepEqual(options, {
    max_pages: 30,
    ratio: 0.5,
    mode: "slow",
    gzip: false,
    hosts: ["b.kr", "c.kr"],
    steps: [{ rules: {} }],
  });
});

Deno.test("readConfigFile() refuses a misspelt key naming the file and the field", async () => {
  const cfg = await yamlFile("max_page: 3\n");
  const msg = await errorOf(readConfigFile(cfg, spec.options));
  assert.equal(msg, `${cfg}: unknown field "max_page" (did you mean "max_pages"?)`);
});

Deno.test("readConfigFile() refuses a wrong type naming the file, the field and what was expected", async () => {
  const cases: [string, string][] = [
    ["max_pages: ten", 'field "max_pages": expected an integer ≥ 1, got "ten"'],
    ["max_pages: 2.5", 'field "max_pages": expected an integer ≥ 1, got 2.5'],
    ["ratio: 2", 'field "ratio": expected a number in 0…1, got 2'],
    ["mode: medium", 'field "mode": expected one of fast, slow, got "medium"'],
    ["gzip: yes please", 'field "gzip": expected true or false, got "yes please"'],
    ["hosts: a.kr", 'field "hosts": expected a list of strings, got "a.kr"'],
    ["steps: {a: 1}", 'field "steps": expected a list of steps, got {"a":1}'],
  ];
  for (const [yaml, expected] of cases) {
    const cfg = await yamlFile(yaml + "\n");
    assert.equal(await errorOf(readConfigFile(cfg, spec.options)), `${cfg}: ${expected}`);
  }
});

Deno.test("readConfigFile() reports invalid YAML and a non-mapping top level in one line", async () => {
  const bad = await yamlFile("max_pages: [1, 2\n  mode: x\n");
  assert.match(await errorOf(readConfigFile(bad, spec.options)), /cfg\.yaml: not valid YAML: /);
  const list = await yamlFile("- a\n- b\n");
  assert.match(await errorOf(readConfigFile(list, spec.options)), /expected a mapping/);
  assert.match(
    await errorOf(readConfigFile("/nonexistent.yaml", spec.options)),
    /no such config file/,
  );
});

Deno.test("parseCommand() refuses arguments beyond the positionals the spec names", async () => {
  assert.equal(
    await errorOf(parseCommand(spec, ["a.jsonl", "--hosts", "a.kr", "b.kr"])),
    'demo: unexpected argument "b.kr" (it takes INPUT; --hosts takes one value per flag: ' +
      "--hosts A --hosts B, or A,B)",
  );
  const none = { ...spec, positionals: undefined };
  assert.equal(
    await errorOf(parseCommand(none, ["x"])),
    'demo: unexpected argument "x" (it takes no arguments)',
  );
  const many = { ...spec, positionals: "FILE…" };
  assert.deepEqual((await parseCommand(many, ["a", "b", "--", "c"])).positionals, ["a", "b", "c"]);
});

Deno.test("helpText() names subcommands, or the values of a positional list, as they exist", () => {
  const subs = { ...spec, positionals: undefined, subcommands: { run: "runs" } };
  assert.match(helpText(subs), /^usage: deno task demo \[SUBCOMMAND\] \[OPTIONS\]$/m);
  assert.match(helpText(subs), /^subcommands:\n {2}run /m);
  const suites = { ...spec, positionals: "[SUITE…]", subcommands: { io: "reader speed" } };
  assert.match(helpText(suites), /^usage: deno task demo \[OPTIONS\] \[SUITE…\]$/m);
  assert.match(helpText(suites), /^SUITE:\n {2}io /m);
});

Deno.test("parseCommand() refuses unknown and mistyped flags", async () => {
  assert.equal(
    await errorOf(parseCommand(spec, ["--max-page", "3"])),
    "unknown flag --max-page (did you mean --max-pages?) (see --help)",
  );
  assert.equal(
    await errorOf(parseCommand(spec, ["--max-pages", "0"])),
    '--max-pages: expected an integer ≥ 1, got "0"',
  );
  assert.equal(await errorOf(parseCommand(spec, ["--ratio"])), "--ratio: expected a value");
  assert.equal(
    await errorOf(parseCommand(spec, ["--steps", "x"])),
    "--steps: set it in the --config file, not as a flag",
  );
});

Deno.test("parseCommand() reports --help and --quiet and helpText() lists every option with its default", async () => {
  const parsed = await parseCommand(spec, ["-q", "--help"]);
  assert.equal(parsed.help, true);
  assert.equal(parsed.quiet, true);
  const text = helpText(spec);
  for (
    const flag of [
      "--max-pages <integer>",
      "--ratio <number>",
      "--mode <string>",
      "--config",
      "--quiet",
      "--help",
    ]
  ) {
    assert.ok(text.includes(flag), `help lacks ${flag}`);
  }
  assert.ok(text.includes("(default: 10)"));
  assert.ok(text.includes("[fast|slow]"));
});

Deno.test("parseCommand() requires required options", async () => {
  const req = {
    name: "x",
    summary: "",
    options: { repo: { type: "string", required: true, description: "" } },
  } as const;
  assert.match(await errorOf(parseCommand(req, [])), /missing option repo/);
  assert.equal((await parseCommand(req, ["--repo", "a/b"])).options.repo, "a/b");
});

Deno.test("parseCommand() refuses keys and flags named like inherited members (constructor, __proto__, …)", async () => {
  const spec = {
    name: "t",
    summary: "t",
    options: { max_pages: { type: "integer", default: 1, description: "pages" } },
  } as const;
  const dir = await Deno.makeTempDir();
  for (const key of ["constructor", "toString", "hasOwnProperty", "valueOf", "__proto__"]) {
    await assert.rejects(
      () => parseCommand(spec, [`--${key}`, "1"]),
      new RegExp(`unknown flag --${key}`),
    );
    await Deno.writeTextFile(`${dir}/c.yaml`, `${key}: 1\n`);
    await assert.rejects(
      () => parseCommand(spec, ["--config", `${dir}/c.yaml`]),
      new RegExp(`unknown field "${key}"`),
    );
  }
  await Deno.writeTextFile(`${dir}/c.yaml`, "max_pages: &a [*a]\n");
  await assert.rejects(() => parseCommand(spec, ["--config", `${dir}/c.yaml`]), /a YAML alias/);
});
