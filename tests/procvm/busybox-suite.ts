/**
 * Busybox's own testsuite (testsuite/ in Debian's busybox source package,
 * the version the default guest's busybox is built from) run against the
 * guest's static riscv64 busybox, under `typevisor exec` and under
 * qemu-riscv64.
 *
 * The source and its .config (defconfig + CONFIG_STATIC, as
 * scripts/guest/build.sh configures the guest's busybox) are fetched and
 * made once into ~/.cache/typevisor/busybox-testsuite/<version>/; nothing
 * is kept in the checkout. Each run copies the testsuite into a scratch
 * directory whose `#!/bin/sh` lines name the run's own `sh`, so every shell
 * and applet of the run is the riscv64 busybox:
 *  - typevisor: `bin/` holds applet links to it; the whole runtest is one
 *    `typevisor exec` (its children fork and exec inside the process VM),
 *    with a -L sysroot whose /bin/sh is the riscv64 busybox;
 *  - qemu: qemu-user cannot exec a riscv64 program by itself, so `bin/`
 *    holds one host script per applet that execs qemu-riscv64 on it.
 * The one change to busybox's harness: runtest's loop that makes its applet
 * links one `ln` at a time is replaced by the same links made beforehand.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { TYPEVISOR } from "./helpers.ts";

/** The default guest's busybox source (scripts/guest/build.sh BUSYBOX_SOURCE_VERSION). */
export const BUSYBOX_SOURCE_VERSION = "1:1.35.0-4+deb12u1";
const CACHE = path.join(os.homedir(), ".cache/typevisor/busybox-testsuite", BUSYBOX_SOURCE_VERSION.replace(/[^\w.+-]/g, "_"));
/** The same list file scripts/guest/build.sh writes, so the two never disagree. */
const DEB_SRC_LIST = "/etc/apt/sources.list.d/typevisor-deb-src.sources";

export interface Prepared {
  /** The pristine testsuite directory. */
  testsuite: string;
  /** busybox's .config for the guest's configuration. */
  config: string;
}

function run(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): string {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, input: opts.input ?? "", encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${(r.stderr || r.stdout).slice(-2000)}`);
  return r.stdout;
}

function sourceListed(): boolean {
  const r = spawnSync("apt-cache", ["showsrc", "--only-source", "busybox"], { encoding: "utf8" });
  return r.status === 0 && r.stdout.split("\n").includes(`Version: ${BUSYBOX_SOURCE_VERSION}`);
}

/** Adds a deb-src entry for the system's Debian archive (as build.sh's ensure_busybox_source_listed) when needed. */
function ensureSourceListed(): void {
  if (sourceListed()) return;
  if (process.getuid?.() !== 0 || fs.existsSync(DEB_SRC_LIST)) {
    throw new Error(`busybox source ${BUSYBOX_SOURCE_VERSION} is not in apt's source lists: add a deb-src entry for the Debian archive (main) and run apt-get update`);
  }
  const sources = fs.readFileSync("/etc/apt/sources.list.d/debian.sources", "utf8");
  const codename = /^VERSION_CODENAME=(\S+)/m.exec(fs.readFileSync("/etc/os-release", "utf8"))?.[1];
  const uri = /^URIs:\s*(\S+)/m.exec(sources)?.[1];
  const signedBy = /^Signed-By:\s*(\S+)/m.exec(sources)?.[1];
  if (codename === undefined || uri === undefined) throw new Error("found no Debian archive entry to add a deb-src line for");
  fs.writeFileSync(DEB_SRC_LIST, `Types: deb-src\nURIs: ${uri}\nSuites: ${codename}\nComponents: main\n${signedBy ? `Signed-By: ${signedBy}\n` : ""}`);
  run("apt-get", ["update", "-q"]);
  if (!sourceListed()) throw new Error(`the archive does not offer busybox source ${BUSYBOX_SOURCE_VERSION}`);
}

/**
 * The testsuite and .config, from the cache or fetched and made now
 * (apt-get source, then make defconfig: a minute or two). Built in a
 * temporary directory and renamed, so a half-made cache is never used.
 */
export function prepareSuite(): Prepared {
  const ready = { testsuite: path.join(CACHE, "testsuite"), config: path.join(CACHE, "config") };
  if (fs.existsSync(ready.config)) return ready;
  ensureSourceListed();
  fs.mkdirSync(path.dirname(CACHE), { recursive: true });
  const work = fs.mkdtempSync(`${CACHE}.tmp-`);
  try {
    run("apt-get", ["source", "-q", `busybox=${BUSYBOX_SOURCE_VERSION}`], { cwd: work });
    const src = fs.readdirSync(work).find((d) => d.startsWith("busybox-1.") && fs.statSync(path.join(work, d)).isDirectory());
    if (src === undefined) throw new Error("apt-get source busybox made no busybox-1.* directory");
    const build = path.join(work, "build");
    fs.mkdirSync(build);
    const make = ["-s", "-C", path.join(work, src), `O=${build}`];
    run("make", [...make, "defconfig"]);
    const config = path.join(build, ".config");
    fs.writeFileSync(config, fs.readFileSync(config, "utf8").replace(/^# CONFIG_STATIC is not set$/m, "CONFIG_STATIC=y"));
    run("make", [...make, "oldconfig"]);
    const out = path.join(work, "out");
    fs.mkdirSync(out);
    fs.cpSync(path.join(work, src, "testsuite"), path.join(out, "testsuite"), { recursive: true });
    fs.copyFileSync(config, path.join(out, "config"));
    fs.renameSync(out, CACHE);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return ready;
}

export type Outcome = "PASS" | "FAIL" | "SKIPPED" | "UNTESTED";

export interface SuiteRun {
  /** Test name → outcome (the last one when a name repeats). */
  results: Map<string, Outcome>;
  log: string;
  seconds: number;
}

/** Runs runtest for `applets` (all when empty) under `runner`, in a fresh directory under `work`. */
export async function runSuite(
  runner: "typevisor" | "qemu",
  prepared: Prepared,
  busybox: string,
  applets: string[],
  work: string,
): Promise<SuiteRun> {
  const root = path.join(work, runner);
  const bin = path.join(root, "bin");
  const ts = path.join(root, "testsuite");
  fs.mkdirSync(bin, { recursive: true });
  fs.cpSync(prepared.testsuite, ts, { recursive: true });
  fs.copyFileSync(prepared.config, path.join(bin, ".config"));
  for (const f of walk(ts)) {
    const text = fs.readFileSync(f, "latin1");
    if (text.startsWith("#!/bin/sh")) fs.writeFileSync(f, `#!${bin}/sh${text.slice(9)}`, "latin1");
  }
  const list = run("qemu-riscv64", [busybox, "--list"]).split("\n").filter((a) => a !== "");
  const qemu = run("sh", ["-c", "command -v qemu-riscv64"]).trim();
  if (runner === "typevisor") {
    fs.symlinkSync(busybox, path.join(bin, "busybox"));
  } else {
    const wrapper = `#!/bin/sh\nexec ${qemu} -0 "$0" ${busybox} "$@"\n`;
    fs.writeFileSync(path.join(bin, "busybox"), wrapper, { mode: 0o755 });
  }
  for (const a of list) if (a !== "busybox") fs.symlinkSync("busybox", path.join(bin, a));
  // runtest makes its applet links with one `ln` per applet (some 400 processes, each a new
  // qemu under qemu-riscv64): make the same links beforehand and drop that loop from the copy.
  const links = path.join(bin, "runtest-tempdir-links");
  fs.mkdirSync(links);
  for (const a of ["busybox", ...list]) if (!fs.existsSync(path.join(links, a))) fs.symlinkSync(path.join(bin, "busybox"), path.join(links, a));
  const runtest = path.join(ts, "runtest");
  const text = fs.readFileSync(runtest, "utf8");
  const loop = /^rm -rf "\$LINKSDIR" 2>\/dev\/null\n\nmkdir "\$LINKSDIR" 2>\/dev\/null\nfor i in \$implemented; do\n(?:\t#.*\n)*\tln -s "\$bindir\/busybox" "\$LINKSDIR\/\$i" 2>\/dev\/null\ndone\n/m;
  if (!loop.test(text)) throw new Error(`${runtest}: its applet-link loop is not where busybox 1.35 has it`);
  fs.writeFileSync(runtest, text.replace(loop, "# (applet links made beforehand by busybox-suite.ts)\n"));
  const sysroot = path.join(root, "sysroot");
  fs.mkdirSync(path.join(sysroot, "bin"), { recursive: true });
  fs.symlinkSync(busybox, path.join(sysroot, "bin/sh"));

  const script = ["./runtest", ...applets];
  const cmd = runner === "typevisor"
    ? [process.execPath, TYPEVISOR, "exec", "-L", sysroot, path.join(bin, "sh"), ...script]
    : [path.join(bin, "sh"), ...script];
  const env = { PATH: bin, HOME: root, LANG: "C", LC_ALL: "C", TERM: "dumb", bindir: bin, tsdir: ts };
  const started = performance.now();
  const log = await new Promise<string>((resolve, reject) => {
    const child = spawn(cmd[0], cmd.slice(1), { cwd: ts, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString("latin1")));
    child.stderr.on("data", (d: Buffer) => (out += d.toString("latin1")));
    child.on("error", reject);
    child.on("close", () => resolve(out));
  });
  const results = new Map<string, Outcome>();
  for (const m of log.matchAll(/^(PASS|FAIL|SKIPPED|UNTESTED): (.*)$/gm)) results.set(m[2], m[1] as Outcome);
  return { results, log, seconds: (performance.now() - started) / 1000 };
}

function* walk(dir: string): Generator<string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.isFile()) yield p;
  }
}
