/**
 * `typevisor exec` as a command: execve inside the process VM (which
 * qemu-riscv64 cannot do without binfmt_misc, so these are checked against
 * known output), options, tracing and errors.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { compile, requireTools, runTypevisor, scratchDir } from "./helpers.ts";

for (const linkage of ["static", "dynamic"] as const) {
  test(`execve of programs and #! scripts, fd inheritance, exec errors (${linkage})`, () => {
    requireTools();
    const bin = compile("exec", linkage);
    const dir = scratchDir();
    try {
      const r = runTypevisor(bin, [dir], { sysroot: linkage === "dynamic" });
      assert.equal(r.stderr, "");
      assert.equal(r.status, 0);
      assert.equal(
        r.stdout,
        [
          "child argv: [argv0] [child] [arg two] env=value",
          "child stdin 13: through stdin",
          "cloexec fd closed: 1",
          "plain fd kept: 1",
          "exec child exited 5",
          `via script: argv[2]=${dir}/script.sh argv[3]=extra argv[4]=-`,
          "script exited 6",
          "exec non-executable: -1 EACCES",
          "exec not a program: -1 ENOEXEC",
          "exec directory: -1 EACCES",
          "",
        ].join("\n"),
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("--trace-syscalls prints each call strace-style and flags unimplemented ones once", () => {
  requireTools();
  const r = runTypevisor(compile("misc", "static"), [], { flags: ["--trace-syscalls"] });
  assert.equal(r.status, 0);
  assert.match(r.stderr, /^\[\d+\] write\(1, "nanosleep 0\\nslept >= 30ms: 1, < "\.\.\., \d+\) = \d+$/m);
  assert.match(r.stderr, /^\[\d+\] clock_nanosleep\(0, 0, 0x[0-9a-f]+, 0x0\) = \? \(blocked\)\n\[\d+\] <\.\.\. clock_nanosleep resumed> = 0$/m);
  assert.match(r.stderr, /^\[\d+\] uname\(0x[0-9a-f]+\) = 0$/m);
  assert.match(r.stderr, /^\[\d+\] ioctl\(0, 0x5401, 0x[0-9a-f]+\) = -1 ENOTTY$/m);
  assert.match(r.stderr, /^\[\d+\] exit_group\(0\) = \?$/m);
  const unimplemented = r.stderr.match(/^typevisor: unimplemented system call 540 .*$/gm) ?? [];
  assert.equal(unimplemented.length, 1);
  const plain = runTypevisor(compile("misc", "static"), []);
  assert.equal(plain.stderr, "", "silent without the flag");
});

test("-E, -U and -0 shape the program's environment and argv[0]", () => {
  requireTools();
  const bin = compile("startup", "static");
  const r = runTypevisor(bin, ["a"], { flags: ["-E", "PROCVM_TEST=from-flag", "-U", "HOME", "-0", "renamed"] });
  assert.match(r.stdout, /^PROCVM_TEST=from-flag$/m);
  assert.equal(r.status, 7);
  const env = runTypevisor(bin, [], { env: { PROCVM_TEST: "inherited" } });
  assert.match(env.stdout, /^PROCVM_TEST=inherited$/m);
});

test("programs that cannot run are refused with a one-line reason", () => {
  const missing = runTypevisor("/nonexistent/prog", []);
  assert.equal(missing.status, 1);
  assert.equal(missing.stderr, "typevisor: cannot run /nonexistent/prog: /nonexistent/prog: no such file\n");
  const host = runTypevisor(process.execPath, ["-e", "1"]);
  assert.equal(host.status, 1);
  assert.match(host.stderr, /^typevisor: cannot run .*: built for machine x86-64 \(62\), expected RISC-V \(243\)\n$|^typevisor: cannot run .*: built for machine AArch64/);
  const notFound = runTypevisor("no-such-program-anywhere", []);
  assert.equal(notFound.status, 1);
  assert.match(notFound.stderr, /no-such-program-anywhere: not found/);
});

test("a dynamic program without its sysroot fails like the kernel would (no interpreter)", () => {
  requireTools();
  const bin = compile("startup", "dynamic");
  const r = runTypevisor(bin, []);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot run .*\/lib\/ld-linux-riscv64-lp64d\.so\.1: no such file/);
  void path;
});
