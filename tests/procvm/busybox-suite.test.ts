/**
 * Busybox's own testsuite (busybox-suite.ts) against the default guest's
 * riscv64 busybox, under qemu-riscv64 and under `typevisor exec`: every
 * test that passes under qemu-riscv64 must pass under typevisor, but for
 * the known differences listed below with their reasons (each must still
 * differ, so the list cannot go stale).
 *
 * `npm test` runs a representative subset of applets (SUBSET);
 * `npm run test:busybox-suite` runs all of them (see docs/testing.md for
 * how long each takes).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { test } from "node:test";
import { prepareSuite, runSuite } from "./busybox-suite.ts";
import { requireTools, riscvBusybox, scratchDir } from "./helpers.ts";

/**
 * Applets whose tests run in `npm test` (about 110 tests): archives with
 * links and modes (tar, cpio), directory walks (find), processes and /proc
 * (pidof, xargs), text (sort, printf). Every run also pays runtest's own
 * start (one process per applet link: ~400 under qemu-riscv64); the full
 * run adds sed, awk, grep, the shells' and the other applets' tests.
 */
const SUBSET = ["cpio", "find", "pidof", "printf", "sort", "tar", "xargs"];

const CREDENTIALS_LEAK =
  "only after cp's tests: their `setuidgid 1` changed the VM-wide credentials, so `id -u` no longer names the " +
  "files' owner (passes when cpio runs without cp, as in the npm test subset)";

/** Tests that pass under qemu-riscv64 and not under typevisor, and why. */
const KNOWN_DIFFERENCES: Record<string, string> = {
  "start-stop-daemon with both -x and -a":
    "runs /bin/false by absolute path: qemu-user hands that exec to the host kernel, which runs the host's " +
    "x86-64 /bin/false; a riscv64 guest cannot run a host binary under typevisor (ENOEXEC), as on a riscv64 " +
    "kernel, and a riscv64 busybox there fails the test by its own comment (argv[0] 'qwerty')",
  "date-works-1": "compares with the host's /bin/date: a host binary, which a riscv64 guest cannot run under typevisor",
  "cp-does-not-copy-unreadable-file":
    "runs cp under `setuidgid 1`: typevisor keeps one set of credentials for the whole VM and opens files " +
    "with the host process's own (root) rights, so the file stays readable; qemu-user really changes the host uid",
  "ls unicode test with codepoints limited to 767":
    "makes files whose names are not valid UTF-8: guest paths and directory entries pass through JavaScript " +
    "strings as UTF-8, so such bytes become U+FFFD (paths as Buffers throughout would fix it)",
  "cpio extracts zero-sized hardlinks": CREDENTIALS_LEAK,
  "cpio extracts zero-sized hardlinks 2": CREDENTIALS_LEAK,
  "cpio uses by default uid/gid": CREDENTIALS_LEAK,
};

test("busybox's testsuite: every test that passes under qemu-riscv64 passes under typevisor exec", async (t) => {
  requireTools("qemu");
  // TYPEVISOR_BUSYBOX_SUITE: "all", or applet names to run instead of SUBSET.
  const chosen = process.env.TYPEVISOR_BUSYBOX_SUITE?.trim() ?? "";
  const all = chosen === "all";
  const applets = all ? [] : chosen !== "" ? chosen.split(/\s+/) : SUBSET;
  const prepared = prepareSuite();
  const busybox = await riscvBusybox();
  const work = scratchDir();
  try {
    const [q, v] = await Promise.all([
      runSuite("qemu", prepared, busybox, applets, work),
      runSuite("typevisor", prepared, busybox, applets, work),
    ]);
    const count = (r: typeof q, o: string) => [...r.results.values()].filter((x) => x === o).length;
    t.diagnostic(`${all ? "all applets" : `${applets.length} applets`}: qemu-riscv64 ${count(q, "PASS")} pass / ${count(q, "FAIL")} fail in ${q.seconds.toFixed(0)} s; typevisor ${count(v, "PASS")} pass / ${count(v, "FAIL")} fail in ${v.seconds.toFixed(0)} s`);
    assert.ok(count(q, "PASS") >= (all ? 400 : applets === SUBSET ? 100 : 1), `the suite ran under qemu-riscv64:\n${q.log.slice(-3000)}`);
    const regressions: string[] = [];
    for (const [name, outcome] of q.results) {
      if (outcome !== "PASS" || v.results.get(name) === "PASS" || name in KNOWN_DIFFERENCES) continue;
      regressions.push(`${name}: ${v.results.get(name) ?? "not run"}`);
    }
    const excerpt = (name: string) => {
      const at = v.log.indexOf(`FAIL: ${name}`);
      return at < 0 ? "" : v.log.slice(Math.max(0, at - 1500), at + 200);
    };
    assert.deepEqual(regressions, [], `passed under qemu-riscv64, not under typevisor:\n${regressions.map(excerpt).join("\n----\n")}`);
    for (const [name, why] of Object.entries(KNOWN_DIFFERENCES)) {
      // Checked in full runs only: some differences need other applets' tests first (CREDENTIALS_LEAK).
      if (!all || !q.results.has(name)) continue;
      assert.ok(q.results.get(name) === "PASS" && v.results.get(name) !== "PASS", `known difference no longer differs: ${name} (${why})`);
    }
    const better = [...v.results].filter(([n, o]) => o === "PASS" && q.results.get(n) === "FAIL").map(([n]) => n);
    if (better.length > 0) t.diagnostic(`pass under typevisor only (qemu-user's own faults): ${better.join("; ")}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});
