/**
 * The sandbox test: for every task in deno.json that runs Jikji code (`deno run` / `deno test`), it
 * runs the task's exact command line with a probe preloaded, under the task's own permissions, and
 * checks that Deno denies what lies outside the task's scope (network where it has none, writing
 * outside its output folders, reading outside its inputs, other programs, other environment
 * variables). Tasks added to deno.json later are covered automatically; `-A` fails the test.
 */

import assert from "node:assert/strict";
import { resolve } from "node:path";
import denoJson from "../deno.json" with { type: "json" };

const ROOT = resolve(new URL("..", import.meta.url).pathname);
const PROBE = resolve(ROOT, "tasks/_sandbox_probe.ts");

/**
 * Tasks whose job needs the network beyond 127.0.0.1: crawling, Hub sync (and training's
 * `--push-to`, which pushes checkpoints to the Hub), evaluating a served model.
 */
const NETWORK_TASKS = new Set(["crawl", "hub", "train", "eval"]);

type Scope = "all" | "none" | string[];
interface Perms {
  net: Scope;
  write: Scope;
  read: Scope;
  run: Scope;
  env: Scope;
}

/** Splits a task's shell line into words (quotes respected) and `&&`/`||`/`;` separated commands. */
export function splitCommands(line: string): string[][] {
  const cmds: string[][] = [[]];
  const re = /"([^"]*)"|'([^']*)'|(&&|\|\||;)|(\S+)/g;
  for (const m of line.matchAll(re)) {
    if (m[3]) cmds.push([]);
    else cmds.at(-1)!.push(m[1] ?? m[2] ?? m[4]);
  }
  return cmds.filter((c) => c.length > 0);
}

/** Reads the permission flags of one `deno run|test` command. */
export function permissionsOf(words: string[]): Perms {
  const perms: Perms = { net: "none", write: "none", read: "none", run: "none", env: "none" };
  const names: Record<string, keyof Perms> = {
    "net": "net",
    "write": "write",
    "read": "read",
    "run": "run",
    "env": "env",
    N: "net",
    W: "write",
    R: "read",
    E: "env",
  };
  for (const w of words) {
    if (w === "-A" || w === "--allow-all") {
      for (const k of Object.keys(perms) as (keyof Perms)[]) perms[k] = "all";
      continue;
    }
    const m = /^(?:--allow-(net|write|read|run|env)|-(N|W|R|E))(?:=(.*))?$/.exec(w);
    if (!m) continue;
    const key = names[m[1] ?? m[2]];
    perms[key] = m[3] === undefined ? "all" : m[3].split(",").filter((s) => s !== "");
  }
  return perms;
}

function within(path: string, allowed: string[]): boolean {
  return allowed.some((a) => {
    const abs = resolve(ROOT, a);
    return path === abs || path.startsWith(abs.endsWith("/") ? abs : abs + "/");
  });
}

/** The out-of-scope actions to try for a command with `perms`. */
function probesFor(perms: Perms, listenPort: number): unknown[] {
  const probes: unknown[] = [];
  const rand = crypto.randomUUID().slice(0, 8);
  if (perms.net === "none") probes.push({ kind: "net", hostname: "127.0.0.1", port: listenPort });
  else if (Array.isArray(perms.net)) {
    // TEST-NET-1: never a legitimate destination; the permission check fails before any packet.
    probes.push({ kind: "net", hostname: "192.0.2.1", port: 80 });
  }
  if (perms.write !== "all") {
    const candidates = [
      resolve(ROOT, `sandbox-probe-${rand}.txt`),
      resolve(ROOT, `data/sandbox-probe-${rand}.txt`),
    ];
    const target = candidates.find((p) =>
      perms.write === "none" || !within(p, perms.write as string[])
    );
    if (target) probes.push({ kind: "write", path: target });
  }
  if (perms.read !== "all") {
    const target = ["/etc/hostname", "/etc/passwd"].find((p) =>
      perms.read === "none" || !within(p, perms.read as string[])
    );
    if (target) probes.push({ kind: "read", path: target });
  }
  if (perms.run !== "all") probes.push({ kind: "run", cmd: "sh" });
  if (perms.env !== "all") probes.push({ kind: "env", name: "HOME" });
  return probes;
}

const tasks = Object.entries((denoJson as { tasks: Record<string, string> }).tasks);

Deno.test("deno.json has the foundation tasks", () => {
  for (const name of ["test", "check", "bench", "demo"]) {
    assert.ok(tasks.some(([n]) => n === name), `task ${name} missing from deno.json`);
  }
});

Deno.test("no task runs with -A or --allow-all", () => {
  for (const [name, line] of tasks) {
    for (const cmd of splitCommands(line)) {
      assert.ok(
        !cmd.includes("-A") && !cmd.includes("--allow-all"),
        `task "${name}" is widened to -A/--allow-all: give it the narrowest permissions it needs`,
      );
    }
  }
});

Deno.test("only the network tasks may reach beyond 127.0.0.1", () => {
  for (const [name, line] of tasks) {
    for (const cmd of splitCommands(line)) {
      const net = permissionsOf(cmd).net;
      const local = net === "none" ||
        (Array.isArray(net) && net.every((h) => /^(127\.0\.0\.1|localhost)(:\d+)?$/.test(h)));
      assert.ok(
        local || NETWORK_TASKS.has(name.split(":")[0]),
        `task "${name}" has network access (${net})`,
      );
    }
  }
});

Deno.test("every task but test names the folders it may read and write", () => {
  for (const [name, line] of tasks) {
    if (name === "test") continue; // the test runner writes temp folders anywhere
    for (const cmd of splitCommands(line)) {
      if (cmd[0] !== "deno" || cmd[1] !== "run") continue;
      const perms = permissionsOf(cmd);
      assert.notEqual(
        perms.write,
        "all",
        `task "${name}" may write anywhere: list its output folders`,
      );
      assert.notEqual(
        perms.read,
        "all",
        `task "${name}" may read anywhere: list its input folders`,
      );
    }
  }
});

for (const [name, line] of tasks) {
  const cmds = splitCommands(line).filter((c) =>
    c[0] === "deno" && (c[1] === "run" || c[1] === "test")
  );
  if (cmds.length === 0) continue; // runs no Jikji code (fmt, lint, check)
  Deno.test(`task "${name}" is denied what lies outside its scope`, async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      for (const cmd of cmds) {
        const perms = permissionsOf(cmd);
        const probes = probesFor(perms, (listener.addr as Deno.NetAddr).port);
        assert.ok(
          probes.length > 0,
          `task "${name}" allows everything: nothing lies outside its scope`,
        );
        const args = [cmd[1], `--preload=${PROBE}`, ...cmd.slice(2)];
        if (cmd[1] === "test") args.push("--");
        args.push(JSON.stringify(probes));
        const out = await new Deno.Command(Deno.execPath(), {
          args,
          cwd: ROOT,
          stdout: "piped",
          stderr: "piped",
          env: { NO_COLOR: "1" },
        }).output();
        const stdout = new TextDecoder().decode(out.stdout);
        const line = stdout.split("\n").find((l) => l.startsWith('{"jikji_sandbox_probe"'));
        assert.ok(
          line,
          `task "${name}": the probe did not report\n${stdout}\n${
            new TextDecoder().decode(out.stderr)
          }`,
        );
        for (const { action, outcome } of JSON.parse(line).jikji_sandbox_probe) {
          assert.equal(outcome, "denied", `task "${name}" was allowed ${JSON.stringify(action)}`);
        }
      }
    } finally {
      listener.close();
    }
  });
}
