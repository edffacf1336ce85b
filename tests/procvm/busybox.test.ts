/**
 * Busybox under `typevisor exec`: shell pipelines with fork/exec/pipes/wait,
 * and single-process applets. Uses the static riscv64 busybox of the default
 * guest (or $TYPEVISOR_BUSYBOX); skips when there is none.
 *
 * Oracles: qemu-riscv64 for applets that start no other program; for shell
 * scripts, the host's own busybox (guest.md: under qemu-riscv64 a riscv64 sh
 * would exec the host's binaries) and literal expected output.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { TYPEVISOR, missingTools, riscvBusybox, runQemu, scratchDir, type RunResult } from "./helpers.ts";

const busybox = missingTools() === null ? riscvBusybox() : null;
const skip = busybox === null ? "no riscv64 busybox (build the default guest or set TYPEVISOR_BUSYBOX)" : false;
const HOST_BUSYBOX = "/usr/bin/busybox";

let work = "";
/** Directories of applet links: one to the riscv64 busybox, one to the host's. */
let guestBin = "";
let hostBin = "";

function linkApplets(dir: string, target: string, applets: string[]): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const a of applets) fs.symlinkSync(target, path.join(dir, a));
}

before(() => {
  if (busybox === null) return;
  work = scratchDir();
  const list = runQemu(busybox, ["--list"]).stdout.split("\n").filter((a) => a !== "" && a !== "busybox");
  guestBin = path.join(work, "guest-bin");
  linkApplets(guestBin, busybox, list);
  if (fs.existsSync(HOST_BUSYBOX)) {
    hostBin = path.join(work, "host-bin");
    linkApplets(hostBin, HOST_BUSYBOX, list);
  }
});

after(() => {
  if (work !== "") fs.rmSync(work, { recursive: true, force: true });
});

function result(r: ReturnType<typeof spawnSync>): RunResult {
  if (r.error) throw r.error;
  return { stdout: String(r.stdout), stderr: String(r.stderr), status: r.status ?? 128 };
}

/** `typevisor exec busybox ARGS` with only the guest applets on PATH. */
function tv(args: string[], opts: { cwd?: string; input?: string } = {}): RunResult {
  return result(spawnSync(process.execPath, [TYPEVISOR, "exec", busybox!, ...args], {
    cwd: opts.cwd ?? work, input: opts.input ?? "", encoding: "utf8", maxBuffer: 1 << 26,
    env: { PATH: guestBin, HOME: work, LANG: "C" },
  }));
}

function hostSh(script: string, cwd: string): RunResult {
  return result(spawnSync(HOST_BUSYBOX, ["sh", "-c", script], {
    cwd, input: "", encoding: "utf8", env: { PATH: hostBin, HOME: work, LANG: "C" },
  }));
}

test("busybox sh: seq 1 1000 | sort -r | head -3", { skip }, () => {
  const r = tv(["sh", "-c", "seq 1 1000 | sort -r | head -3"]);
  assert.deepEqual(r, { stdout: "999\n998\n997\n", stderr: "", status: 0 }, "sort -r is lexical");
  const numeric = tv(["sh", "-c", "seq 1 1000 | sort -rn | head -3"]);
  assert.equal(numeric.stdout, "1000\n999\n998\n");
});

const scripts: Array<[string, string]> = [
  ["arithmetic loop", "i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; echo $i"],
  ["pipes and subshells", "echo hello world | tr a-z A-Z | rev; (echo a; echo b) | wc -l; echo $((6*7))"],
  ["exit statuses", "false; echo $?; (exit 3); echo $?; sh -c 'exit 5'; echo $?; true && echo and || echo or"],
  ["text tools", "seq 1 200 | grep 7 | sed 's/7/seven/' | awk '{ s += length($0) } END { print NR, s }'"],
  ["files", "mkdir -p d/e && echo data > d/e/f && ls -R d && cat d/e/f && cp d/e/f g && wc -c g && rm -r d g && ls"],
  ["redirections and here-docs", "cat <<EOF > x\nline1\nline2\nEOF\nsort -r x; echo err >&2 2>/dev/null; cat < x | head -n1; rm x"],
  ["xargs, find, env", "mkdir q; touch q/a q/b q/c; find q -type f | sort | xargs echo; env | grep -c '^PATH='; rm -r q"],
  ["background job and wait", "sleep 0.1 & echo started; wait; echo done"],
  ["signals", "trap 'echo got USR1' USR1; kill -USR1 $$; sh -c 'kill -TERM $$'; echo status $?"],
  ["command substitution", "n=$(seq 1 50 | wc -l); echo n=$n; echo $(echo $(echo nested))"],
];

for (const [name, script] of scripts) {
  test(`busybox sh script matches the host's busybox: ${name}`, { skip: skip || (fs.existsSync(HOST_BUSYBOX) ? false : "no host busybox") }, () => {
    const a = scratchDir();
    const b = scratchDir();
    try {
      const want = hostSh(script, a);
      const got = tv(["sh", "-c", script], { cwd: b });
      assert.deepEqual(got, want);
    } finally {
      fs.rmSync(a, { recursive: true, force: true });
      fs.rmSync(b, { recursive: true, force: true });
    }
  });
}

test("single-process applets match qemu-riscv64", { skip }, () => {
  const file = path.join(work, "words.txt");
  fs.writeFileSync(file, Array.from({ length: 3000 }, (_, i) => `w${(i * 7919) % 3000} ${i}`).join("\n") + "\n");
  const cases = [
    ["sort", "-k2", "-n", "-r", file],
    ["md5sum", file],
    ["wc", file],
    ["awk", "{ n[$1 % 7]++ } END { for (k in n) print k, n[k] }", file],
    ["uname", "-m"],
    ["od", "-A", "x", "-t", "x1z", "-N", "64", file],
    ["gzip", "-c", file],
  ];
  for (const args of cases) {
    const q = runQemu(busybox!, args);
    const t = tv(args);
    assert.deepEqual(t, q, `busybox ${args.join(" ")}`);
  }
});

test("busybox sha256sum of a 16 MiB file agrees with node:crypto", { skip }, () => {
  const file = path.join(work, "blob.bin");
  const data = Buffer.alloc(16 << 20);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 12)) & 0xff;
  fs.writeFileSync(file, data);
  const r = tv(["sha256sum", file]);
  assert.equal(r.stdout, `${createHash("sha256").update(data).digest("hex")}  ${file}\n`);
  assert.equal(r.status, 0);
});
