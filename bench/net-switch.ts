/**
 * Guest ⇄ guest TCP across processes: two Typevisor guests on
 * `typevisor switch PATH` (`--net switch=PATH`), against two QEMU 7.2
 * guests joined by QEMU's own `-netdev stream` over a Unix socket (one
 * `server=on`, one `server=off`), same default guest, in one run.
 *
 *   node --import tsx bench/net-switch.ts [--mib N] [--reps N] [--baseline DIR]
 *
 * --baseline DIR adds the typevisor of another checkout as a third target
 * (its switch and guests; bench/baseline.ts).
 *
 * Static addresses (192.168.77.1 and .2, set from the shell once the boot's
 * DHCP attempt has given up), then
 * - send: A's `dd if=/dev/zero … | nc B 9000` of N MiB (default 8) into
 *   B's `nc -l -p 9000 > /dev/null`;
 * - ping: `ping -c 5 B`, A's average round trip;
 * - A's TCP retransmissions during the send (/proc/net/snmp).
 * Times are host wall time from typing the command to its end marker.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ensureDefaultGuest, readDefaultGuestManifest } from "../src/guest/default-guest.ts";
import { GuestConsole, qemuCommand, typevisorCommand, type GuestBoot } from "../tests/support/guest-console.ts";
import { TYPEVISOR_BIN } from "../tests/support/run.ts";
import { median, printTable } from "./stats.ts";
import { BASELINE, baselineBin, withBin } from "./baseline.ts";

const HANG_GUARD_MS = 30 * 60 * 1000;

interface Sample {
  sendMs: number;
  pingMs: number;
  retransmits: number;
}

async function retransmits(vm: GuestConsole): Promise<number> {
  const lines = (await vm.check("grep Tcp: /proc/net/snmp")).trim().split("\n");
  const names = lines[0].split(/\s+/);
  return Number(lines[1].split(/\s+/)[names.indexOf("RetransSegs")]);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { mib: { type: "string", default: "8" }, reps: { type: "string", default: "1" }, baseline: { type: "string" } } });
  const mib = Number(values.mib);
  const reps = Number(values.reps);
  if (!Number.isInteger(mib) || mib < 1 || !Number.isInteger(reps) || reps < 1) throw new Error("--mib N and --reps N (whole, ≥ 1)");
  const guest = await ensureDefaultGuest();
  const manifest = readDefaultGuestManifest(guest.dir);
  const tmp = mkdtempSync(join(tmpdir(), "typevisor-bench-switch-"));
  const targets: string[] = ["qemu -netdev stream", "typevisor --net switch"];
  if (values.baseline !== undefined) targets.push(BASELINE);
  const samples = new Map<string, Sample[]>(targets.map((t) => [t, []]));
  console.log(`guest ⇄ guest TCP across processes: ${mib} MiB, ${reps} rep(s), ${new Date().toISOString()}`);
  try {
    for (let rep = 0; rep < reps; rep++) {
      for (const target of targets) {
        const socket = join(tmp, "link.sock");
        const boot = (name: string): GuestBoot => {
          const disk = join(tmp, `${name}.ext4`);
          copyFileSync(guest.disk, disk);
          return { kernel: guest.kernel, initrd: guest.initrd, append: manifest.append, drives: [{ file: disk }] };
        };
        let sw: ChildProcess | null = null;
        const vms: GuestConsole[] = [];
        try {
          if (target.startsWith("qemu")) {
            const nic = (server: string, mac: string) => ["-netdev", `stream,id=n0,server=${server},addr.type=unix,addr.path=${socket}`, "-device", `virtio-net-device,netdev=n0,mac=${mac}`];
            vms.push(GuestConsole.start(qemuCommand({ ...boot("a"), extraArgs: nic("on", "52:54:00:00:00:0a") }), { label: "qemu A", hangGuardMs: HANG_GUARD_MS }));
            await new Promise((r) => setTimeout(r, 2000)); // the server side listens first
            vms.push(GuestConsole.start(qemuCommand({ ...boot("b"), extraArgs: nic("off", "52:54:00:00:00:0b") }), { label: "qemu B", hangGuardMs: HANG_GUARD_MS }));
          } else {
            const dir = target === BASELINE ? values.baseline : undefined;
            sw = spawn(process.execPath, [dir === undefined ? TYPEVISOR_BIN : baselineBin(dir), "switch", socket], { stdio: "ignore" });
            await new Promise((r) => setTimeout(r, 3000));
            for (const [name, mac] of [["a", "52:54:00:00:00:0a"], ["b", "52:54:00:00:00:0b"]]) {
              const command = withBin(typevisorCommand({ ...boot(name), extraArgs: ["--net", `switch=${socket},mac=${mac}`] }), dir);
              vms.push(GuestConsole.start(command, { label: `${target} ${name}`, hangGuardMs: HANG_GUARD_MS }));
            }
          }
          const [a, b] = vms;
          await Promise.all(vms.map((vm) => vm.waitForShell(manifest.readyMarker)));
          for (const [vm, ip] of [[a, "192.168.77.1"], [b, "192.168.77.2"]] as const) {
            await vm.check(`while pidof udhcpc >/dev/null; do sleep 1; done; ifconfig eth0 ${ip} netmask 255.255.255.0 up`);
          }
          await a.check("ping -c 2 192.168.77.2");
          await b.check("(nc -l -p 9000 > /dev/null &) ; sleep 1");
          const before = await retransmits(a);
          const send = await a.run(`dd if=/dev/zero bs=64k count=${mib * 16} 2>/dev/null | nc 192.168.77.2 9000`);
          if (send.status !== 0) throw new Error(`${target}: the send failed: ${send.output}`);
          const lost = (await retransmits(a)) - before;
          const ping = await a.check("ping -c 5 192.168.77.2");
          const avg = /min\/avg\/max = [\d.]+\/([\d.]+)\//.exec(ping);
          if (!avg) throw new Error(`${target}: no ping summary in ${ping}`);
          const s = { sendMs: send.hostMs, pingMs: Number(avg[1]), retransmits: lost };
          samples.get(target)!.push(s);
          console.log(`  ${rep + 1}/${reps} ${target}: ${(mib / (s.sendMs / 1000)).toFixed(2)} MiB/s, ping ${s.pingMs} ms, ${lost} retransmitted segments`);
        } finally {
          await Promise.all(vms.map((vm) => vm.kill()));
          sw?.kill("SIGTERM");
        }
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const med = (t: string, k: keyof Sample) => median(samples.get(t)!.map((s) => s[k]));
  const q = targets[0];
  const rows = [["target", "A → B MiB/s", "ping avg ms", "retransmits", "send time / qemu"]];
  for (const t of targets) {
    rows.push([t, (mib / (med(t, "sendMs") / 1000)).toFixed(2), med(t, "pingMs").toFixed(3), String(med(t, "retransmits")), (med(t, "sendMs") / med(q, "sendMs")).toFixed(2)]);
  }
  printTable(rows);
}

await main();
