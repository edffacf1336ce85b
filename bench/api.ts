/**
 * The daemon's figures (issue 12), on the daemon as it ships (a
 * `bin/typevisor serve` process: bundled, --prewarm P), over TCP+TLS with
 * a token:
 *
 *   node --import tsx bench/api.ts [--requests N] [--concurrency C] [--starts N] [--idle N] [--prewarm P]
 *
 * 1. API latency: C clients issuing N GET /v1/vms in all — on an empty
 *    host, then with two guests spinning at full speed (load), then with the
 *    idle guests of 3 — p50, p99 and requests per second.
 * 2. VM start latency: a small bare-metal guest (16 MiB, the echo program),
 *    POST create + POST start until the reply (running), and until its
 *    first console byte reaches a WebSocket viewer; median of N.
 * 3. Idle 64 MiB Linux guests: one default guest booted (to its shell),
 *    then cloned (a fork through the API) to N in all; host CPU over 10 s
 *    (% of one core, all threads) and RSS, per guest, and what a 2-core
 *    host would hold at that idle CPU.
 * Prints every figure; docs/benchmarks.md ("Daemon and API") records them.
 */
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { cpus, totalmem } from "node:os";
import { DEFAULT_GUEST_READY_MARKER } from "../src/guest/default-guest-config.ts";
import { buildElf } from "../tests/support/toolchain.ts";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tcpCall, unixCall, waitJob, type Endpoint } from "../tests/api/harness.ts";
import { REPO_ROOT } from "../tests/support/toolchain.ts";
import { echoVmBody } from "../tests/api/small-guest.ts";
import { ConsoleClient } from "../tests/api/ws-client.ts";
import { median, printTable } from "./stats.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "2000" },
    concurrency: { type: "string", default: "8" },
    starts: { type: "string", default: "10" },
    idle: { type: "string", default: "16" },
    prewarm: { type: "string", default: "1" },
  },
});
const REQUESTS = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);
const STARTS = Number(values.starts);
const IDLE = Number(values.idle);

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

/** The daemon as it ships: bin/typevisor serve in its own process. */
class Served {
  constructor(readonly pid: number, readonly endpoint: Endpoint, readonly adminToken: string, private readonly stop: () => Promise<void>) {}

  static async start(dataDir: string): Promise<Served> {
    const args = [join(REPO_ROOT, "bin/typevisor"), "serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--overcommit", "16", "--prewarm", values.prewarm!];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    // The ready line (pino JSON) names the TCP port --listen 127.0.0.1:0 picked.
    const port = await new Promise<number>((resolve, reject) => {
      let log = "";
      child.stdout!.on("data", (chunk: Buffer) => {
        log += chunk;
        const line = log.split("\n").find((l) => l.includes("typevisor daemon ready"));
        if (line !== undefined) resolve((JSON.parse(line) as { tcpPort: number }).tcpPort);
      });
      child.once("exit", (code) => reject(new Error(`serve exited with ${code}`)));
    });
    child.stdout!.removeAllListeners("data");
    child.stdout!.resume(); // request logs, discarded
    const socketPath = join(dataDir, "api.sock");
    const e0: Endpoint = { port, ca: readFileSync(join(dataDir, "tls", "cert.pem"), "utf8"), socketPath };
    const token = (await unixCall(e0, "POST", "/v1/tokens", { name: "bench", role: "admin", scope: "*" })).body.token as string;
    const ended = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    return new Served(child.pid!, e0, token, async () => {
      child.kill("SIGTERM");
      await ended;
    });
  }

  tcp(method: string, path: string, body?: unknown) {
    return tcpCall(this.endpoint, this.adminToken, method, path, body);
  }

  unix(method: string, path: string, body?: unknown) {
    return unixCall(this.endpoint, method, path, body);
  }

  waitJob(id: string) {
    return waitJob(this.endpoint, id);
  }

  /** CPU seconds (all threads) and RSS of the daemon process. */
  usage(): { cpuSeconds: number; rssMiB: number } {
    const stat = readFileSync(`/proc/${this.pid}/stat`, "utf8").split(") ")[1].split(" ");
    const ticks = Number(stat[11]) + Number(stat[12]); // utime + stime, in clock ticks (100 Hz)
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, "utf8"))![1];
    return { cpuSeconds: ticks / 100, rssMiB: Number(rss) / 1024 };
  }

  close(): Promise<void> {
    return this.stop();
  }
}

async function latency(d: Served, label: string): Promise<string[]> {
  const times: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < REQUESTS) {
        const t = performance.now();
        const r = await d.tcp("GET", "/v1/vms");
        if (r.status !== 200) throw new Error(`GET /v1/vms: ${r.status}`);
        times.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  return [label, percentile(times, 0.5).toFixed(1), percentile(times, 0.99).toFixed(1), (times.length / seconds).toFixed(0)];
}

const spin = `
  .section .text.init
  .globl _start
_start:
1:
  addi t2, t2, 1
  j 1b
`;

const dataDir = mkdtempSync(join(tmpdir(), "tv-bench-api-"));
const d = await Served.start(dataDir);
try {
  // 1. API latency, empty host and under load.
  const rows = [["GET /v1/vms", "p50 ms", "p99 ms", "req/s"]];
  rows.push(await latency(d, "empty host"));
  const spinKernel = await buildElf({ sources: [{ name: "bench-spin.S", text: spin }] });
  for (const name of ["spin1", "spin2"]) {
    await d.unix("POST", "/v1/vms", { name, memoryMiB: 16, boot: { kind: "kernel", kernel: spinKernel, firmware: "none" } });
    await d.unix("POST", `/v1/vms/${name}/actions/start`);
  }
  await sleep(500);
  rows.push(await latency(d, "2 guests spinning"));
  for (const name of ["spin1", "spin2"]) await d.unix("DELETE", `/v1/vms/${name}?force=true`);

  // 2. VM start latency.
  const body = await echoVmBody("x");
  const toRunning: number[] = [];
  const toConsole: number[] = [];
  for (let i = 0; i < STARTS + 1; i++) {
    const name = `start${i}`;
    const t = performance.now();
    await d.tcp("POST", "/v1/vms", { ...body, name });
    const r = await d.tcp("POST", `/v1/vms/${name}/actions/start`);
    const running = performance.now() - t;
    if (r.body.state !== "running") throw new Error(r.text);
    const c = await ConsoleClient.open(d.endpoint, name, d.adminToken);
    await c.waitFor(">");
    const consoleMs = performance.now() - t;
    c.close();
    if (i > 0) {
      // The first start also loads the machine code into the process: reported apart.
      toRunning.push(running);
      toConsole.push(consoleMs);
    } else {
      console.log(`first start (cold): ${running.toFixed(0)} ms to running`);
    }
    await d.tcp("DELETE", `/v1/vms/${name}?force=true`);
  }
  console.log(`\nVM start, median of ${STARTS}: create+start → running ${median(toRunning).toFixed(0)} ms; → first console byte ${median(toConsole).toFixed(0)} ms`);

  // 3. Idle 64 MiB Linux guests: boot one, clone (fork) the rest.
  const t0 = performance.now();
  await d.tcp("POST", "/v1/vms", { name: "idle0", memoryMiB: 64 });
  await d.tcp("POST", "/v1/vms/idle0/actions/start");
  const c = await ConsoleClient.open(d.endpoint, "idle0", d.adminToken);
  await c.waitFor(DEFAULT_GUEST_READY_MARKER);
  c.close();
  const bootS = (performance.now() - t0) / 1000;
  await sleep(3000); // the shell settles
  const t1 = performance.now();
  for (let i = 1; i < IDLE; i++) {
    const r = await d.tcp("POST", "/v1/vms/idle0/clone", { name: `idle${i}` });
    const job = await d.waitJob(r.body.job.id);
    if (job.state !== "succeeded") throw new Error(JSON.stringify(job));
  }
  const cloneMs = (performance.now() - t1) / Math.max(1, IDLE - 1);
  await sleep(3000);
  const u0 = d.usage();
  const w0 = performance.now();
  await sleep(10_000);
  const u1 = d.usage();
  const cpuPct = ((u1.cpuSeconds - u0.cpuSeconds) * 1000 / (performance.now() - w0)) * 100;
  const rssMiB = u1.rssMiB;
  const host = (await d.unix("GET", "/v1/host")).body;
  console.log(`\ndefault guest boot to shell: ${bootS.toFixed(1)} s; clone (fork via API, job done): ${cloneMs.toFixed(0)} ms each`);
  console.log(`${IDLE} idle 64 MiB Linux guests: host CPU ${cpuPct.toFixed(1)}% of one core (${(cpuPct / IDLE).toFixed(2)}% per guest), RSS ${rssMiB.toFixed(0)} MiB (${(rssMiB / IDLE).toFixed(1)} MiB per guest); running ${host.vms.running}`);
  console.log(`at that idle CPU a ${cpus().length}-core host holds ~${Math.floor((cpus().length * 100) / (cpuPct / IDLE))} such guests by CPU; by memory ~${Math.floor(totalmem() / 2 ** 20 / (rssMiB / IDLE))} (${(totalmem() / 2 ** 30).toFixed(0)} GiB host)`);
  rows.push(await latency(d, `${IDLE} idle Linux guests`));
  console.log("");
  printTable(rows);
} finally {
  await d.close();
  rmSync(dataDir, { recursive: true, force: true });
}
