/**
 * A real single-node Slurm for tests: {@linkcode startTestSlurm} writes a `slurm.conf` for
 * localhost in a temp folder, starts `munged` (its own key and socket), `slurmctld` and `slurmd`
 * (Debian's `slurm-wlm` and `munge`; as root, as CI runs), and returns the environment
 * (`SLURM_CONF`) under which `sbatch`/`squeue`/`scancel`/`scontrol` talk to it. Nothing of the
 * machine's own Slurm or munge configuration is read or changed.
 *
 * Where Slurm cannot start (not installed, not root), tests using {@linkcode slurmTest} say loudly
 * that they skipped — except under CI (`CI=true`), where they run and fail.
 *
 * @module
 */

/** A running test cluster. */
export interface TestSlurm {
  /** The folder holding slurm.conf, state, logs and the munge socket. */
  dir: string;
  /** Environment for Slurm's client tools (`SLURM_CONF`). */
  env: Record<string, string>;
  /** Runs a Slurm client tool against this cluster. */
  cli(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Shuts the daemons down and removes the folder. */
  stop(): Promise<void>;
}

async function _run(cmd: string, args: string[], env: Record<string, string> = {}) {
  try {
    const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
      .output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      return { code: 127, stdout: "", stderr: `${cmd}: not found` };
    }
    throw err;
  }
}

const _sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

/** Why Slurm cannot run here, or null when it can (root, and the daemons installed). */
export async function slurmUnavailableReason(): Promise<string | null> {
  const id = await _run("id", ["-u"]);
  if (id.stdout.trim() !== "0") {
    return "the test cluster's daemons run as root (run as root, as CI does)";
  }
  for (const tool of ["munged", "slurmctld", "slurmd", "sbatch"]) {
    const r = await _run("sh", ["-c", `command -v ${tool}`]);
    if (r.code !== 0) return `${tool} not found (apt-get install slurm-wlm munge)`;
  }
  return null;
}

/** Starts munged, slurmctld and slurmd for localhost with `cpus` CPUs; throws when they fail. */
export async function startTestSlurm(cpus = 4): Promise<TestSlurm> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "jikji-slurm-" }));
  for (const d of ["munge", "state", "spool", "log"]) await Deno.mkdir(`${dir}/${d}`);
  await Deno.chmod(dir, 0o755);
  await Deno.chmod(`${dir}/munge`, 0o700);
  const key = crypto.getRandomValues(new Uint8Array(1024));
  await Deno.writeFile(`${dir}/munge/munge.key`, key, { mode: 0o400 });
  const sock = `${dir}/munge/munge.sock`;
  const munged = await _run("munged", [
    `--socket=${sock}`,
    `--key-file=${dir}/munge/munge.key`,
    `--log-file=${dir}/munge/munged.log`,
    `--pid-file=${dir}/munge/munged.pid`,
    `--seed-file=${dir}/munge/munged.seed`,
    "--force",
  ]);
  const env = { SLURM_CONF: `${dir}/slurm.conf` };
  const stop = async () => {
    await _run("scontrol", ["shutdown"], env);
    await _run("munged", ["--stop", `--socket=${sock}`]);
    for (const pidFile of ["slurmctld.pid", "slurmd.pid"]) {
      // a daemon that did not take the shutdown is ended by its own pid
      try {
        const pid = Number((await Deno.readTextFile(`${dir}/${pidFile}`)).trim());
        for (let i = 0; i < 20 && _alive(pid); i++) await _sleep(100);
        if (_alive(pid)) Deno.kill(pid, "SIGKILL");
      } catch {
        // not started
      }
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  if (munged.code !== 0) {
    await stop();
    throw new Error(`munged failed: ${munged.stderr.trim()}`);
  }
  // two free ports for the controller and the node daemon
  const ports = [0, 0].map(() => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const p = (l.addr as Deno.NetAddr).port;
    l.close();
    return p;
  });
  await Deno.writeTextFile(
    `${dir}/slurm.conf`,
    [
      "ClusterName=jikji-test",
      "SlurmctldHost=localhost(127.0.0.1)",
      `SlurmctldPort=${ports[0]}`,
      `SlurmdPort=${ports[1]}`,
      "SlurmUser=root",
      "SlurmdUser=root",
      "AuthType=auth/munge",
      "CredType=cred/munge",
      `AuthInfo=socket=${sock}`,
      `StateSaveLocation=${dir}/state`,
      `SlurmdSpoolDir=${dir}/spool`,
      `SlurmctldPidFile=${dir}/slurmctld.pid`,
      `SlurmdPidFile=${dir}/slurmd.pid`,
      `SlurmctldLogFile=${dir}/log/slurmctld.log`,
      `SlurmdLogFile=${dir}/log/slurmd.log`,
      "ProctrackType=proctrack/linuxproc",
      "TaskPlugin=task/none",
      "JobAcctGatherType=jobacct_gather/none",
      "AccountingStorageType=accounting_storage/none",
      "SelectType=select/cons_tres",
      "SelectTypeParameters=CR_CPU",
      "SchedulerType=sched/builtin",
      "MpiDefault=none",
      "ReturnToService=2",
      // the node offers the CPUs written here, whatever the machine has
      "SlurmdParameters=config_overrides",
      "MinJobAge=300",
      `NodeName=localhost NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=4000 State=UNKNOWN`,
      "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
      "",
    ].join("\n"),
  );
  const cli = (cmd: string, args: string[]) => _run(cmd, args, env);
  const ctld = await _run("slurmctld", ["-i"], env);
  const d = await _run("slurmd", ["-N", "localhost"], env);
  if (ctld.code !== 0 || d.code !== 0) {
    const log = await Deno.readTextFile(`${dir}/log/slurmctld.log`).catch(() => "");
    await stop();
    throw new Error(`slurmctld/slurmd failed: ${ctld.stderr}${d.stderr}${log.slice(-2000)}`);
  }
  // ready when the node is idle
  for (let i = 0;; i++) {
    const r = await cli("sinfo", ["-h", "-o", "%t"]);
    if (r.code === 0 && /^idle/m.test(r.stdout)) break;
    if (i === 100) {
      const log = await Deno.readTextFile(`${dir}/log/slurmd.log`).catch(() => "");
      await stop();
      throw new Error(`the test Slurm node never became idle: ${r.stdout}${r.stderr}${log}`);
    }
    await _sleep(100);
  }
  return { dir, env, cli, stop };
}

function _alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

const IN_CI = (() => {
  try {
    return Deno.env.get("CI") === "true" || Deno.env.get("CI") === "1";
  } catch {
    return false;
  }
})();

const _reason = await slurmUnavailableReason();
if (_reason && !IN_CI) {
  console.warn(
    `\n!!! Slurm tests SKIPPED: ${_reason}\n!!! (under CI=true they run and fail instead)\n`,
  );
}

/**
 * Registers a test that needs a running test cluster. Where Slurm is unavailable it is skipped
 * with a loud warning, except under CI (`CI=true`), where it runs and fails.
 */
export function slurmTest(name: string, fn: (slurm: TestSlurm) => Promise<void>): void {
  Deno.test({
    name,
    ignore: _reason !== null && !IN_CI,
    async fn() {
      if (_reason) throw new Error(`Slurm is unavailable under CI: ${_reason}`);
      const slurm = await startTestSlurm();
      try {
        await fn(slurm);
      } catch (err) {
        const log = await Deno.readTextFile(`${slurm.dir}/log/slurmctld.log`).catch(() => "");
        console.error(`slurmctld.log (end):\n${log.slice(-3000)}`);
        throw err;
      } finally {
        await slurm.stop();
      }
    },
  });
}
