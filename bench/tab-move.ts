/**
 * Moving a VM between the daemon and a browser tab (issue 14), as a user
 * does it in the web console: a `typevisor serve` process running the
 * default guest (128 MiB), Debian's Chromium signed in, then N rounds of
 * "Run in browser" and "Move to host". For each move:
 *
 * - pause-to-resume: from the click until the VM runs again on the other
 *   side (host → tab: the daemon pauses, saves and ends the worker, the tab
 *   restores lazily; tab → host: the tab pauses, syncs, snapshots and
 *   uploads, the daemon checks, rebases and restores);
 * - first answer: from the click until a command typed then has answered
 *   (the tab fetches the RAM pages it touches);
 * - bytes: host → tab, the response bodies the tab fetched (lease snapshot
 *   and drive ranges), as Chromium's network log counts them; tab → host,
 *   the blocks it synced and the snapshot it uploaded, as the daemon's
 *   audit log records their sizes (Chromium does not count a Blob body).
 *
 *   node --import tsx bench/tab-move.ts [rounds=3]
 *
 * docs/benchmarks.md ("VM moves between the host and a browser tab") records it.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { Page, Request } from "playwright-core";
import { launchChromium } from "../tests/web/chromium.ts";
import { DaemonProcess } from "../tests/web/daemon-process.ts";
import { PROMPT, run, signIn, waitForScreen, waitUnlessError } from "../tests/web/console-page.ts";
import { QUIET_CONSOLE } from "../tests/support/guest-console.ts";

const VM = "bench";
const rounds = Number(process.argv[2] ?? 3);

/** Counts the body bytes of requests that belong to a move while `counting` is on. */
class Traffic {
  bytes = 0;
  requests = 0;
  private pending: Promise<void>[] = [];

  constructor(page: Page) {
    page.on("requestfinished", (req: Request) => {
      const url = req.url();
      if (!url.includes("/browser/") && !url.includes("/actions/move-to-")) return;
      this.pending.push(req.sizes().then((s) => {
        this.bytes += s.requestBodySize + s.responseBodySize;
        this.requests++;
      }, () => {}));
    });
  }

  async take(): Promise<{ bytes: number; requests: number }> {
    await Promise.all(this.pending.splice(0));
    const out = { bytes: this.bytes, requests: this.requests };
    this.bytes = 0;
    this.requests = 0;
    return out;
  }
}

/** Bytes of the uploads (drive blocks, snapshots) the daemon's audit log recorded after line `from`; and its line count. */
async function uploaded(auditFile: string, from: number): Promise<{ bytes: number; requests: number; lines: number }> {
  const lines = (await readFile(auditFile, "utf8")).trim().split("\n");
  let bytes = 0;
  let requests = 0;
  for (const line of lines.slice(from)) {
    const e = JSON.parse(line) as { detail?: { bytes?: number } };
    if (typeof e.detail?.bytes === "number") {
      bytes += e.detail.bytes;
      requests++;
    }
  }
  return { bytes, requests, lines: lines.length };
}

async function timed(page: Page, action: string, until: ReturnType<Page["locator"]>, probe: string): Promise<{ resumeMs: number; answerMs: number }> {
  const start = performance.now();
  await page.locator(`[data-action="${action}"]`).click();
  await waitUnlessError(page, until);
  const resumeMs = performance.now() - start;
  await run(page, `echo ${probe}-$((2+2))`, new RegExp(`${probe}-4`));
  return { resumeMs, answerMs: performance.now() - start };
}

const dir = await mkdtemp(join(tmpdir(), "tv-bench-tab-"));
const daemon = await DaemonProcess.start(join(dir, "data"));
const browser = await launchChromium();
try {
  const token = await daemon.token("bench", "admin");
  await daemon.owner("POST", "/v1/vms", { name: VM, memoryMiB: 128 });
  await daemon.owner("POST", `/v1/vms/${VM}/actions/start`);
  const page = await (await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 900 } })).newPage();
  await signIn(page, daemon.origin, token);
  await page.locator(`button[data-vm="${VM}"]`).click();
  await waitForScreen(page, PROMPT);
  await run(page, `${QUIET_CONSOLE}; echo quiet-$((6*7))`, /quiet-42/);
  const traffic = new Traffic(page);
  const rows: string[] = [];
  for (let i = 0; i < rounds; i++) {
    await traffic.take();
    const toTab = await timed(page, "run-in-browser", page.locator('[data-location="browser"]', { hasText: "this browser tab" }), `tab${i}`);
    await new Promise((r) => setTimeout(r, 2000)); // the background RAM stream runs on; its bytes count for this move
    const tabBytes = await traffic.take();
    const auditFile = join(dir, "data", "audit.log");
    const before = await uploaded(auditFile, 0);
    const toHost = await timed(page, "move-to-host", page.locator('[data-action="run-in-browser"]'), `host${i}`);
    await traffic.take();
    const hostBytes = await uploaded(auditFile, before.lines);
    rows.push(`| ${i + 1} | host → tab | ${toTab.resumeMs.toFixed(0)} | ${toTab.answerMs.toFixed(0)} | ${(tabBytes.bytes / 2 ** 20).toFixed(1)} (${tabBytes.requests} requests) |`);
    rows.push(`| ${i + 1} | tab → host | ${toHost.resumeMs.toFixed(0)} | ${toHost.answerMs.toFixed(0)} | ${(hostBytes.bytes / 2 ** 20).toFixed(1)} (${hostBytes.requests} requests) |`);
  }
  console.log("| round | move | click → running (ms) | click → first answer (ms) | MiB moved |");
  console.log("|---|---|---|---|---|");
  for (const r of rows) console.log(r);
} finally {
  await browser.close();
  await daemon.owner("DELETE", `/v1/vms/${VM}?force=true`).catch(() => {});
  await daemon.stop();
  await rm(dir, { recursive: true, force: true });
}
