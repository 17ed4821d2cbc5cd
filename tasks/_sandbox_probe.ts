/**
 * Preloaded by `sandbox_test.ts` in front of a task's exact command line (`--preload`): it tries
 * the actions named in its last argument (JSON) under the task's own permissions, prints one JSON
 * line `{"jikji_sandbox_probe": [...]}` with what Deno allowed or denied, and exits before the
 * task runs.
 */

type Action =
  | { kind: "net"; hostname: string; port: number }
  | { kind: "write"; path: string }
  | { kind: "read"; path: string }
  | { kind: "run"; cmd: string }
  | { kind: "env"; name: string };

const spec = JSON.parse(Deno.args.at(-1) ?? "[]") as Action[];
const results: { action: Action; outcome: string }[] = [];
for (const action of spec) {
  let outcome = "allowed";
  try {
    switch (action.kind) {
      case "net": {
        const conn = await Promise.race([
          Deno.connect({ hostname: action.hostname, port: action.port }),
          new Promise<never>((_, rej) => setTimeout(() => rej(new Error("timeout")), 2000)),
        ]);
        conn.close();
        break;
      }
      case "write":
        await Deno.writeTextFile(action.path, "sandbox probe\n");
        await Deno.remove(action.path);
        break;
      case "read":
        await Deno.readFile(action.path);
        break;
      case "run":
        await new Deno.Command(action.cmd, { stdout: "null", stderr: "null" }).output();
        break;
      case "env":
        Deno.env.get(action.name);
        break;
    }
  } catch (err) {
    outcome = err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied
      ? "denied"
      : `allowed (then failed: ${(err as Error).message})`;
  }
  results.push({ action, outcome });
}
console.log(JSON.stringify({ jikji_sandbox_probe: results }));
Deno.exit(0);
