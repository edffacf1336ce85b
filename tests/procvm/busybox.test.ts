/**
 * Busybox under `typevisor exec`: shell pipelines with fork/exec/pipes/wait,
 * and single-process applets, using the static riscv64 busybox 1.35 of the
 * default guest (built when the cache lacks it; or $TYPEVISOR_BUSYBOX).
 *
 * Oracles: qemu-riscv64 running the same binary for applets that start no
 * other program (compared byte for byte); for shell scripts, the host's own
 * Debian busybox 1.35 (guest.md: under qemu-riscv64 a riscv64 sh would exec
 * the host's binaries) and literal expected output. The two busybox builds
 * differ in configuration (gzip's compression, sort -R, the usage banner), so
 * scripts compare what both builds define the same way.
 *
 * The guest sees a small sysroot (-L) whose /bin/sh is the riscv64 busybox,
 * as on a riscv64 system, for programs that run "/bin/sh" themselves (awk's
 * pipes, glibc's popen and system).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import * as zlib from "node:zlib";
import { HOST_BUSYBOX, TYPEVISOR, scratchDir, setUpBusybox, type BusyboxSetup } from "./helpers.ts";

let work = "";
let bb: BusyboxSetup;

before(async () => {
  work = scratchDir();
  bb = await setUpBusybox(work);
});

after(() => {
  if (work !== "") fs.rmSync(work, { recursive: true, force: true });
});

interface Result {
  stdout: Buffer;
  stderr: string;
  status: number;
}

function result(r: ReturnType<typeof spawnSync>): Result {
  if (r.error) throw r.error;
  return { stdout: r.stdout as Buffer, stderr: String(r.stderr), status: r.status ?? 128 };
}

const spawnOptions = (cwd: string, PATH: string, input: string) => ({
  cwd, input, maxBuffer: 1 << 28, env: { PATH, HOME: work, LANG: "C" },
});

/** `typevisor exec busybox ARGS` with only the guest applets on PATH. */
function tv(args: string[], opts: { cwd?: string; input?: string } = {}): Result {
  return result(spawnSync(process.execPath, [TYPEVISOR, "exec", "-L", bb.sysroot, bb.busybox, ...args],
    spawnOptions(opts.cwd ?? work, bb.guestBin, opts.input ?? "")));
}

function qemu(args: string[], opts: { cwd?: string } = {}): Result {
  return result(spawnSync(bb.qemu, [bb.busybox, ...args], spawnOptions(opts.cwd ?? work, bb.guestBin, "")));
}

function hostSh(script: string, cwd: string): Result {
  return result(spawnSync(HOST_BUSYBOX, ["sh", "-c", script], spawnOptions(cwd, bb.hostBin, "")));
}

const text = (r: Result) => ({ stdout: r.stdout.toString("latin1"), stderr: r.stderr, status: r.status });

test("/proc/self and /proc/<pid> describe guest processes (status, comm, cmdline, environ, maps)", () => {
  // cat and grep read their own /proc/self; the shell's files are read through $$, another process's pid.
  const script = [
    "cat /proc/self/status | grep -E '^(Name|Threads|SigCgt):'",
    "cat /proc/$$/comm",
    "tr '\\0' ' ' < /proc/$$/cmdline; echo",
    "tr '\\0' '\\n' < /proc/self/environ | grep '^PROCFS_TEST='",
    "grep -c '\\[stack\\]' /proc/self/maps",
    "sh -c 'grep ^PPid: /proc/$$/status' | cut -f2 > ppid; [ $(cat ppid) = $$ ] && echo child sees parent",
  ].join("; ");
  const r = spawnSync(process.execPath, [TYPEVISOR, "exec", "-L", bb.sysroot, bb.busybox, "sh", "-c", script], {
    cwd: work, encoding: "utf8", env: { PATH: bb.guestBin, HOME: work, LANG: "C", PROCFS_TEST: "yes" },
  });
  assert.equal(r.stderr, "");
  assert.equal(r.status, 0, r.stdout);
  const lines = r.stdout.split("\n");
  assert.equal(lines[0], "Name:\tcat");
  assert.equal(lines[1], "Threads:\t1");
  assert.match(lines[2], /^SigCgt:\t[0-9a-f]{16}$/);
  assert.equal(lines[3], path.basename(bb.busybox).slice(0, 15));
  assert.equal(lines[4], `${bb.busybox} sh -c ${script} `);
  assert.equal(lines[5], "PROCFS_TEST=yes");
  assert.equal(lines[6], "1");
  assert.equal(lines[7], "child sees parent");
});

test("busybox sh: seq 1 1000 | sort -r | head -3", () => {
  const r = text(tv(["sh", "-c", "seq 1 1000 | sort -r | head -3"]));
  assert.deepEqual(r, { stdout: "999\n998\n997\n", stderr: "", status: 0 }, "sort -r is lexical");
  const numeric = text(tv(["sh", "-c", "seq 1 1000 | sort -rn | head -3"]));
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
  ["sha256sum in pipes",
    "seq 1 20000 > n; sha256sum n; cat n | sha256sum; seq 1 20000 | tee m | sha256sum; cmp n m && echo equal; " +
    "sha256sum n > sums; sha256sum -c sums; echo x >> n; sha256sum -c sums; echo status $?; rm n m sums"],
  ["gzip and gunzip",
    "seq 1 20000 > n; gzip -c n | gunzip | sha256sum; gzip n && ls && gunzip -t n.gz && echo ok; " +
    "zcat n.gz | tail -2; gunzip n.gz; wc -l n; gzip -9 -c n | gzip -d -c | cmp - n && echo same; " +
    "echo corrupt | gunzip; echo status $?; rm n"],
  ["sort",
    "printf 'b 2\\na 10\\nc 1\\na 2\\nB 3\\n' > s; sort s; sort -k2,2n -k1,1 s; sort -f s | head -2; " +
    "sort -u -k1,1 s; sort -t' ' -k2 -rn s | tr '\\n' ,; echo; seq 1 3000 | sort | sort -n | sort -n -c && echo sorted; " +
    "sort -c s; echo status $?; rm s"],
  ["awk",
    "seq 1 100 | awk 'NR % 7 == 0 { s += $1; n++ } END { printf \"%d %d %.3f\\n\", n, s, s / n }'; " +
    "echo a:b:c | awk -F: '{ print $3 $1, NF }'; " +
    "printf 'x 1\\ny 2\\nx 3\\n' | awk '{ t[$1] += $2 } END { for (k in t) print k, t[k] | \"sort\" }'; " +
    "awk 'BEGIN { print length(\"hello\"), substr(\"hello\", 2, 3), toupper(\"abc\"), sprintf(\"%05.1f\", 3.14159); exit 3 }'; " +
    "echo status $?; awk 'BEGIN { while ((\"seq 3\" | getline l) > 0) s = s l; print s; system(\"echo from system\") }'"],
  ["sed",
    "seq 1 30 | sed -n '/^2/p' | sed 's/\\(.\\)\\(.\\)/\\2\\1/; y/0123/abcd/' | tr '\\n' ' '; echo; " +
    "printf 'one\\ntwo\\nthree\\n' > f; sed -i 's/o/0/g; 2d' f; cat f; sed -e '1i\\\nfirst' -e '$a\\\nlast' f; " +
    "sed -n '$=' f; echo hello | sed -E 's/(l+)/[\\1]/'; rm f"],
  ["find",
    "mkdir -p f/a/b f/c; touch f/a/1 f/a/b/2 f/c/3; echo data > f/c/4; ln -s ../c f/a/l; " +
    "find f -name '[0-9]' | sort; find f -type d | sort; find f -maxdepth 1 | sort; find f -type l; " +
    "find f -size +0 -type f; find f -type f -exec wc -c {} + | sort; find f -name 2 -print0 | xargs -0 ls; " +
    "find f -path '*/a/*' -prune -o -type f -print | sort; find f -name 3 -exec sh -c 'echo found $1' sh {} \\;; rm -r f"],
  ["tar",
    "mkdir -p t/a; echo hello > t/a/f; seq 1 500 > t/n; ln -s a/f t/link; chmod 640 t/n; tar -cf t.tar t; " +
    "tar -tf t.tar | sort; rm -r t; tar -xf t.tar; cat t/a/f; readlink t/link; wc -l < t/n; ls -l t/n | cut -c1-10; " +
    "tar -czf t.tgz t; rm -r t; tar -xzf t.tgz; find t | sort; tar -cf - t | tar -tf - | sort | tr '\\n' ' '; echo; " +
    "mkdir x; tar -cf - t | (cd x && tar -xf -); find x -type f | sort; tar -xzf t.tgz -O t/a/f; rm -r t x t.tar t.tgz"],
];

for (const [name, script] of scripts) {
  test(`busybox sh script matches the host's busybox: ${name}`, () => {
    const a = scratchDir();
    const b = scratchDir();
    try {
      const want = text(hostSh(script, a));
      const got = text(tv(["sh", "-c", script], { cwd: b }));
      assert.deepEqual(got, want);
    } finally {
      fs.rmSync(a, { recursive: true, force: true });
      fs.rmSync(b, { recursive: true, force: true });
    }
  });
}

/** A file tree as a comparable list: path, type and mode, mtime of files, contents or link target. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
      const r = path.join(rel, name);
      const full = path.join(dir, r);
      const s = fs.lstatSync(full);
      const what = s.isSymbolicLink() ? `-> ${fs.readlinkSync(full)}`
        : s.isFile() ? createHash("sha256").update(fs.readFileSync(full)).digest("hex") : "dir";
      const mtime = s.isFile() ? ` ${Math.floor(s.mtimeMs / 1000)}` : "";
      out.push(`${r} ${(s.mode & 0o170777).toString(8)}${mtime} ${what}`);
      if (s.isDirectory()) walk(r);
    }
  };
  walk("");
  return out;
}

test("single-process applets match qemu-riscv64 byte for byte", () => {
  const file = path.join(work, "words.txt");
  const words = Array.from({ length: 3000 }, (_, i) => `w${(i * 7919) % 3000} ${i}`).join("\n") + "\n";
  fs.writeFileSync(file, words);
  fs.writeFileSync(path.join(work, "words.gz"), zlib.gzipSync(Buffer.from(words.repeat(50))));
  const src = path.join(work, "src");
  fs.mkdirSync(path.join(src, "sub/deeper"), { recursive: true });
  fs.writeFileSync(path.join(src, "a.txt"), "alpha\n");
  fs.writeFileSync(path.join(src, "sub/b.bin"), Buffer.alloc(70_000, 7));
  fs.writeFileSync(path.join(src, "sub/deeper/c"), words);
  fs.chmodSync(path.join(src, "sub/deeper/c"), 0o751);
  fs.symlinkSync("sub/b.bin", path.join(src, "link"));
  assert.equal(qemu(["tar", "-cf", "src.tar", "src"]).status, 0);
  const cases = [
    ["sort", "-k2", "-n", "-r", file],
    ["sort", "-t", " ", "-k1.2n", "-s", file],
    ["md5sum", file],
    ["sha256sum", file, "words.gz"],
    ["wc", file],
    ["awk", "{ n[$1 % 7]++ } END { for (k in n) print k, n[k] }", file],
    ["sed", "-n", "s/^w\\([0-9]*7\\) \\(.*\\)/\\2:\\1/p", file],
    ["uname", "-m"],
    ["od", "-A", "x", "-t", "x1z", "-N", "64", file],
    ["gzip", "-c", file],
    ["gzip", "-1", "-c", file],
    ["gunzip", "-c", "words.gz"],
    ["find", "src", "-type", "f"],
    ["find", "src", "-name", "*.bin", "-o", "-type", "l", "-print"],
    ["tar", "-cf", "-", "src"],
    ["tar", "-tvf", "src.tar"],
  ];
  for (const args of cases) {
    const q = qemu(args);
    const t = tv(args);
    assert.equal(t.stderr, q.stderr, `busybox ${args.join(" ")}: stderr`);
    assert.equal(t.status, q.status, `busybox ${args.join(" ")}: status`);
    assert.ok(t.stdout.equals(q.stdout), `busybox ${args.join(" ")}: stdout differs\n${t.stdout.toString("latin1").slice(0, 2000)}`);
  }
  const gunzipped = tv(["gunzip", "-c", "words.gz"]).stdout.toString();
  assert.equal(gunzipped, words.repeat(50), "gunzip restores what node:zlib compressed");
  for (const [runner, dir] of [[qemu, "x-qemu"], [tv, "x-tv"]] as const) {
    fs.mkdirSync(path.join(work, dir));
    const r = runner(["tar", "-xf", "src.tar", "-C", dir]);
    assert.equal(r.status, 0, r.stderr);
  }
  assert.deepEqual(tree(path.join(work, "x-tv")), tree(path.join(work, "x-qemu")), "tar -x extracts the same tree");
  assert.deepEqual(tree(path.join(work, "x-tv/src")), tree(src), "and it is the tree that was archived");
});

test("busybox sha256sum of a 16 MiB file agrees with node:crypto", () => {
  const file = path.join(work, "blob.bin");
  const data = Buffer.alloc(16 << 20);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 12)) & 0xff;
  fs.writeFileSync(file, data);
  const r = text(tv(["sha256sum", file]));
  assert.equal(r.stdout, `${createHash("sha256").update(data).digest("hex")}  ${file}\n`);
  assert.equal(r.status, 0);
});
