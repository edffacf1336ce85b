// The console driver (tests/support/guest-console.ts) against a stand-in
// guest: the host's busybox sh on a pseudo-terminal (util-linux `script`),
// with the default guest's prompt and ready marker. Fast, so the driver's
// own behaviour is checked without booting Linux.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { GuestConsole, GuestConsoleError, qemuCommand, typevisorCommand } from "../support/guest-console.ts";

const MARKER = "TYPEVISOR-GUEST-READY";

function fakeGuest(hangGuardMs = 10_000, shell = `echo ${MARKER}; exec env PS1='typevisor:\\w# ' busybox sh -i`): GuestConsole {
  return GuestConsole.start(["script", ["-qfec", shell, "/dev/null"]], { hangGuardMs, label: "fake guest" });
}

const started: GuestConsole[] = [];
after(async () => {
  for (const vm of started) await vm.kill();
});

test("runs commands and returns exactly their output and exit status", async () => {
  const vm = fakeGuest();
  started.push(vm);
  const bootMs = await vm.waitForShell(MARKER);
  assert.ok(bootMs > 0 && bootMs < 10_000);
  assert.deepEqual(pick(await vm.run("echo hello; echo world")), { output: "hello\nworld\n", status: 0 });
  assert.deepEqual(pick(await vm.run("printf 'no newline'")), { output: "no newline", status: 0 });
  assert.deepEqual(pick(await vm.run("echo oops >&2; false")), { output: "oops\n", status: 1 });
  // Longer than the line editor's 80 columns: the echo wraps, the output does not.
  assert.equal(await vm.check(`echo ${"x".repeat(150)} | wc -c`), "151\n");
  // The markers never leak into the output, even when the command prints similar text.
  assert.equal(await vm.check("echo TV-END-99 0"), "TV-END-99 0\n");
  vm.type("exit 3");
  assert.deepEqual(await vm.exited(), { code: 3, signal: null });
});

test("a command line the shell abandons fails at once, naming the command", async () => {
  const vm = fakeGuest();
  started.push(vm);
  await vm.waitForShell(MARKER);
  await assert.rejects(vm.run("echo $((1/0))"), (e: Error) => {
    assert.ok(e instanceof GuestConsoleError);
    assert.match(e.message, /abandoned `echo \$\(\(1\/0\)\)`/);
    assert.match(e.message, /--- console ---/);
    return true;
  });
  assert.equal(await vm.check("echo still here"), "still here\n");
  await vm.kill();
});

test("check fails on a non-zero exit status", async () => {
  const vm = fakeGuest();
  started.push(vm);
  await vm.waitForShell(MARKER);
  await assert.rejects(vm.check("test -e /nonexistent"), /`test -e \/nonexistent` exited with status 1/);
  await vm.kill();
});

test("the hang guard turns a silent guest into a failure with the console", async () => {
  const vm = fakeGuest(500);
  started.push(vm);
  await vm.waitForShell(MARKER);
  await assert.rejects(vm.run("sleep 30"), /hang guard: no the end of `sleep 30` after 0.5 s[^]*--- console ---[^]*sleep 30/);
  await vm.kill();
});

test("a process that ends before the marker fails with its status", async () => {
  const vm = fakeGuest(10_000, "echo booting; exit 7");
  started.push(vm);
  await assert.rejects(vm.waitForShell(MARKER), /process ended \(exit status 7\) before the ready marker/);
});

test("QEMU and Typevisor command lines describe the same machine", () => {
  const boot = {
    kernel: "Image", initrd: "initrd.gz", append: "console=ttyS0", bios: "fw.bin", drives: [{ file: "d.img" }],
    net: "null" as const, rng: true,
  };
  const [, q] = qemuCommand(boot);
  const [, t] = typevisorCommand(boot);
  assert.deepEqual(q, [
    "-M", "virt", "-m", "256M", "-nographic", "-bios", "fw.bin", "-kernel", "Image", "-initrd", "initrd.gz",
    "-append", "console=ttyS0", "-drive", "file=d.img,format=raw,if=none,id=drive0", "-device", "virtio-blk-device,drive=drive0",
    "-netdev", "hubport,id=net0,hubid=0", "-device", "virtio-net-device,netdev=net0", "-device", "virtio-rng-device",
  ]);
  assert.deepEqual(t.slice(1), [
    "run", "-m", "256M", "--bios", "fw.bin", "--kernel", "Image", "--initrd", "initrd.gz",
    "--append", "console=ttyS0", "--drive", "file=d.img,format=raw", "--net", "null", "--rng",
  ]);
  assert.throws(() => qemuCommand({ ...boot, net: "loopback" }), /no loopback/);
});

function pick(r: { output: string; status: number }) {
  return { output: r.output, status: r.status };
}
