// `typevisor run` checks every flag before building or booting anything:
// with TYPEVISOR_CACHE pointed at an empty directory (no default guest, so a
// first run would build one for ~10 minutes) a bad flag is a one-line error
// and nothing at all is created — no guest build, no data disk copy.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { typevisorWithEnv, type Exit } from "./session.ts";

const tmp = mkdtempSync(join(tmpdir(), "typevisor-validation-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const disk = join(tmp, "disk.img");
writeFileSync(disk, new Uint8Array(4096));

/** Runs `typevisor run ARGS` with an empty cache; asserts it failed with one line matching `pattern`, creating nothing. */
async function refused(args: string[], pattern: RegExp): Promise<string> {
  const cache = mkdtempSync(join(tmp, "cache-"));
  const r: Exit = await typevisorWithEnv({ TYPEVISOR_CACHE: cache, TYPEVISOR_DATA_DISK: undefined }, "run", ...args).exited;
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^typevisor: [^\n]+\n$/, "one line");
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /booting the default guest|\[guest\]/);
  assert.deepEqual(readdirSync(cache), [], "no guest build was started and no data disk was made");
  return r.stderr;
}

test("bad -m: not a size, or more than one wasm32 memory holds (said in M and G, and why)", async () => {
  await refused(["-m", "lots"], /-m lots: not a size; use e\.g\. 256M or 1G/);
  await refused(["-m", "4G"], /-m 4G: 4 GiB of guest RAM does not fit: one wasm32 memory \(4 GiB at most\) holds the guest RAM plus 12 MiB of hart state.* the most is 4084M \(3G in whole gigabytes\)/);
  await refused(["-m", "1M"], /-m 1M: 1 MiB is too little guest RAM: give at least 2M/);
});

test("bad --smp, --net, --icount, --gdb, -S, -M", async () => {
  await refused(["--smp", "9"], /--smp 9: the virt board takes 1 to 8 harts, got 9/);
  await refused(["-smp", "x"], /--smp x: expected a whole number from 1 to 8/);
  await refused(["--net", "tap"], /--net tap: expected none, null, loopback, user\[,option=value...\] or switch=PATH/);
  await refused(["--icount", "0"], /--icount 0: expected a whole number of instructions per tick \(1 or more\), got 0/);
  await refused(["--gdb", "tcp::99999"], /--gdb tcp::99999: expected tcp::PORT/);
  await refused(["-S"], /-S waits for a debugger: give -s or --gdb tcp::PORT too/);
  await refused(["-M", "sifive_u"], /-M sifive_u: only the RISC-V virt board is emulated/);
  await refused(["-machine", "pc"], /-M pc: only the RISC-V virt board/);
});

test("bad --drive: syntax, missing file, unsupported format", async () => {
  await refused(["--drive", "file=/nonexistent/x.img,format=raw"], /--drive file=\/nonexistent\/x\.img,format=raw: \/nonexistent\/x\.img: no such file/);
  await refused(["-drive", `file=${disk},format=vmdk`], /unknown image format "vmdk" \(known: raw, qcow2\)/);
  await refused(["--drive", `file=${disk},snapshot=maybe`], /snapshot=maybe must be on or off/);
  await refused(["--drive", `file=${tmp}`], /: not a regular file/);
});

test("--initrd without --kernel is an error, also for the default guest", async () => {
  await refused(["--initrd", disk], /--initrd needs --kernel: the default guest brings its own initramfs/);
  await refused(["--bios", "none", "--initrd", disk], /--initrd needs a kernel: give one with --kernel/);
});

test("bad --kernel, --initrd and --bios files", async () => {
  await refused(["--kernel", join(tmp, "no-Image")], /--kernel .*no-Image: no such file/);
  await refused(["--kernel", disk, "--initrd", join(tmp, "no-initrd")], /--initrd .*no-initrd: no such file/);
  await refused(["--bios", join(tmp, "no-fw.bin"), "--kernel", disk], /--bios .*no-fw\.bin: no such file/);
});

test("every problem is named in one line, and -snapshot is QEMU's option, not -s -n -a ...", async () => {
  const line = await refused(["-snapshot", "--smp", "9", "-m", "8G", "--net", "tap", "--drive", "file=/nonexistent"], /--smp 9/);
  for (const part of ["-m 8G: 8 GiB", "--smp 9:", "--net tap:", "--drive file=/nonexistent:"]) assert.ok(line.includes(part), `${part} in ${line}`);
  assert.doesNotMatch(line, /napshot|unknown option/);
});
