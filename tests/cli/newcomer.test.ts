// What a new user types first: --version, bare `typevisor`, `run --help`,
// and QEMU's own command lines.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { qemuStyleArgs } from "../../src/cli/qemu-args.ts";
import { TYPEVISOR_BIN } from "../support/run.ts";
import { REPO_ROOT } from "../support/toolchain.ts";
import { program } from "./programs.ts";
import { hasQemu, Session, typevisor } from "./session.ts";

const { version } = JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, "utf8")) as { version: string };

test("--version and -V print the package version", async () => {
  for (const flag of ["--version", "-V"]) {
    assert.deepEqual(await typevisor(flag).exited, { code: 0, signal: null, stdout: `${version}\n`, stderr: "" });
  }
});

test("bare typevisor prints help on stdout and exits 0", async () => {
  const r = await typevisor().exited;
  assert.equal(r.code, 0);
  assert.equal(r.stderr, "");
  assert.match(r.stdout, /^Usage: typevisor /);
  assert.match(r.stdout, /run \[options\]/);
  assert.match(r.stdout, /exec \[options\] <program>/);
});

test("run --help says that no --kernel boots the default guest, and what it is", async () => {
  const r = await typevisor("run", "--help").exited;
  assert.equal(r.code, 0);
  assert.match(r.stdout, /With no --kernel .* run boots the default guest:\nLinux 6\.1 with a busybox shell/);
  assert.match(r.stdout, /mounted at \/data/);
  assert.match(r.stdout, /-snapshot/);
});

test("QEMU's one-dash long options become run's options; values are left alone", () => {
  assert.deepEqual(
    qemuStyleArgs(["run", "-M", "virt", "-nographic", "-snapshot", "-smp", "2", "-kernel", "Image", "-append", "-kernel", "-drive", "file=a", "-s", "-S", "-m", "1G"]),
    ["run", "-M", "virt", "--nographic", "--snapshot", "--smp", "2", "--kernel", "Image", "--append", "-kernel", "--drive", "file=a", "-s", "-S", "-m", "1G"],
  );
  assert.deepEqual(qemuStyleArgs(["exec", "./prog", "-kernel"]), ["exec", "./prog", "-kernel"], "only run's arguments");
  assert.deepEqual(qemuStyleArgs(["run", "-bogus"]), ["run", "-bogus"], "unknown ones stay as typed");
});

test("a QEMU command line runs unchanged: -M virt -nographic -bios none -m 256M -smp 1 -kernel ELF", { skip: !hasQemu() && "qemu-system-riscv64 not installed" }, async () => {
  const args = ["-M", "virt", "-nographic", "-bios", "none", "-m", "256M", "-smp", "1", "-kernel", await program("hello")];
  const [ours, theirs] = await Promise.all([typevisor("run", ...args).exited, new Session("qemu-system-riscv64", args).exited]);
  assert.deepEqual([ours.code, ours.stdout, ours.stderr], [theirs.code, theirs.stdout, ""]);
  assert.equal(ours.stdout, "hello");
});

test("on a Node.js older than 20 (Debian 12's own is 18), typevisor says what to install", async () => {
  const pretend18 = 'data:text/javascript,Object.defineProperty(process, "versions", { value: { ...process.versions, node: "18.19.0" } })';
  const r = await new Session(process.execPath, ["--import", pretend18, TYPEVISOR_BIN, "run"]).exited;
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^typevisor: needs Node\.js 20 or newer \(this is 18\.19\.0; .*\n  Install it with: sudo bash \S+\/scripts\/ensure-node\.sh\n$/);
});
