/**
 * In-guest disk throughput, QEMU 7.2 and Typevisor on the same images in
 * one run: sequential 1 MiB reads and writes and random 4 KiB reads (one
 * reader, and four at once), with O_DIRECT on /dev/vdb, on a raw and on a
 * fully allocated qcow2 image; and on an empty qcow2 image (every write
 * allocates), sequential 1 MiB writes and random 4 KiB writes.
 *
 *   node --import tsx bench/guest-disk-io.ts [--mib 64] [--reads 2000] [--only raw,qcow2,qcow2-empty] [--before DIR]
 *
 * `--before DIR` also runs the Typevisor checkout in DIR (e.g. `git archive`
 * of an older commit, with node_modules) on the same images between QEMU
 * and this one, for a before/after in one run on a machine whose load moves.
 *
 * The guest program is bench/storage/diskbench.c, built static for riscv64
 * and copied onto a scratch copy of the default guest's data disk
 * (/dev/vda, mounted at /data by the guest's init). /dev/vdb is a 128 MiB
 * disk of random data, fresh for each target and format (qcow2: fully
 * allocated, made by qemu-img convert), or (qcow2-empty) a new empty
 * qcow2 image of the same size. QEMU runs with its defaults
 * (cache=writeback, aio=threads); Typevisor with its defaults.
 */
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { ensureDefaultGuest, readDefaultGuestManifest } from "../src/guest/default-guest.ts";
import { GuestConsole, qemuCommand, typevisorCommand, type Command } from "../tests/support/guest-console.ts";
import { printTable } from "./stats.ts";

const DEBIAN_OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin";
const HANG_GUARD_MS = 60 * 60 * 1000;

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed`);
}

const { values } = parseArgs({
  options: {
    mib: { type: "string", default: "64" },
    reads: { type: "string", default: "2000" },
    only: { type: "string", default: "raw,qcow2,qcow2-empty" },
    before: { type: "string" },
  },
});
const before = values.before === undefined ? null : path.resolve(values.before);
const targets = before === null ? (["qemu", "typevisor"] as const) : (["qemu", "before", "typevisor"] as const);
const mib = Number(values.mib);
const reads = Number(values.reads);
const formats = values.only.split(",") as ("raw" | "qcow2" | "qcow2-empty")[];
const guest = await ensureDefaultGuest();
const manifest = readDefaultGuestManifest(guest.dir);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "typevisor-bench-disk-"));
try {
  const bin = path.join(dir, "diskbench");
  sh("riscv64-linux-gnu-gcc", ["-O2", "-static", "-o", bin, path.join(import.meta.dirname, "storage/diskbench.c")]);
  const data = path.join(dir, "data.ext4");
  fs.copyFileSync(guest.disk, data);
  sh("debugfs", ["-w", "-R", `write ${bin} diskbench`, data]);
  const random = path.join(dir, "random.raw");
  const fd = fs.openSync(random, "w");
  for (let i = 0; i < 128; i++) fs.writeSync(fd, crypto.randomBytes(2 ** 20));
  fs.closeSync(fd);

  const filled = [
    ["seqread", `seqread ${mib}`],
    ["seqwrite", `seqwrite ${mib}`],
    ["randread 4k", `randread ${reads}`],
    ["randread 4k, 4 jobs", `randread ${reads / 4}`],
  ];
  const allocating = [
    ["seqwrite", `seqwrite ${mib}`],
    ["randwrite 4k", `randwrite ${reads}`],
  ];
  const workloadsOf = (f: string) => (f === "qcow2-empty" ? allocating : filled);
  const results = new Map<string, string>();
  for (const name of formats) {
    const format = name === "raw" ? "raw" : "qcow2";
    for (const target of targets) {
      const disk = path.join(dir, `disk.${format}`);
      fs.rmSync(disk, { force: true });
      if (name === "raw") fs.copyFileSync(random, disk);
      else if (name === "qcow2") sh("qemu-img", ["convert", "-O", "qcow2", random, disk]);
      else sh("qemu-img", ["create", "-q", "-f", "qcow2", disk, "128M"]);
      const boot = { kernel: guest.kernel, initrd: guest.initrd, append: manifest.append, memory: "256M" };
      const command: Command = target === "qemu"
        ? qemuCommand({
            ...boot,
            bios: DEBIAN_OPENSBI,
            drives: [{ file: data }],
            extraArgs: ["-drive", `file=${disk},format=${format},if=none,id=bench`, "-device", "virtio-blk-device,drive=bench"],
          })
        : typevisorCommand({ ...boot, drives: [{ file: data }], extraArgs: ["--drive", `file=${disk},format=${format}`] });
      if (target === "before") command[1][0] = path.join(before!, "bin/typevisor");
      const vm = GuestConsole.start(command, { label: `${target} ${name}`, hangGuardMs: HANG_GUARD_MS });
      try {
        await vm.waitForShell(manifest.readyMarker);
        for (const [workload, args] of workloadsOf(name)) {
          // "4 jobs": four readers at once (different seeds), so several requests are in flight; IOPS summed.
          const command = workload.endsWith("4 jobs")
            ? `for j in 1 2 3 4; do /data/diskbench /dev/vdb ${args} $j > /tmp/job$j & done; wait; cat /tmp/job1 /tmp/job2 /tmp/job3 /tmp/job4 | awk '{ s += $2; c += $4 } END { printf "randread %d IOPS %d\\n", s, c }'`
            : `/data/diskbench /dev/vdb ${args}`;
          const out = (await vm.check(command)).trim();
          const load = os.loadavg()[0].toFixed(1);
          console.log(`${target} ${name} ${workload}: ${out} (load ${load})`);
          results.set(`${target} ${name} ${workload}`, `${out} ${load}`);
        }
        vm.type("poweroff");
        await vm.exited();
      } finally {
        await vm.kill();
      }
    }
  }
  const rows = [
    before === null
      ? ["workload", "unit", "qemu", "typevisor", "typevisor / qemu", "load (qemu / typevisor)"]
      : ["workload", "unit", "qemu", "before", "typevisor", "before / qemu", "typevisor / qemu", "load (qemu / before / typevisor)"],
  ];
  for (const name of formats) {
    for (const [workload] of workloadsOf(name)) {
      const q = results.get(`qemu ${name} ${workload}`)!.split(" ");
      const t = results.get(`typevisor ${name} ${workload}`)!.split(" ");
      if (q[3] !== t[3]) throw new Error(`${name} ${workload}: the guests read different data (${q[3]} vs ${t[3]})`);
      const ratio = (x: string[]) => (Number(x[1]) / Number(q[1])).toFixed(2);
      if (before === null) {
        rows.push([`${name} ${workload}`, q[2], q[1], t[1], ratio(t), `${q[4]} / ${t[4]}`]);
        continue;
      }
      const b = results.get(`before ${name} ${workload}`)!.split(" ");
      if (q[3] !== b[3]) throw new Error(`${name} ${workload}: the guests read different data (${q[3]} vs ${b[3]})`);
      rows.push([`${name} ${workload}`, q[2], q[1], b[1], t[1], ratio(b), ratio(t), `${q[4]} / ${b[4]} / ${t[4]}`]);
    }
  }
  console.log(`\nin-guest O_DIRECT on /dev/vdb (128 MiB), ${mib} MiB sequential, ${reads} random reads; higher is better:`);
  printTable(rows);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
