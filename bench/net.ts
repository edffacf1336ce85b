/**
 * Guest ⇄ host networking, Typevisor `--net user` against QEMU 7.2
 * `-netdev user` (slirp) with the same default guest, in one run.
 *
 *   node --import tsx bench/net.ts [--mib N] [--reps N] [--ipv6] [--baseline DIR]
 *
 * --baseline DIR adds a third target: the typevisor of another checkout
 * (bench/baseline.ts), so a change is measured before/after in one run.
 *
 * Per target: boot, DHCP (udhcpc), then
 * - download: guest `wget -O /dev/null` of an N MiB file (default 32) from a
 *   host HTTP server on 127.0.0.1, reached as 10.0.2.2;
 * - upload: guest `dd … | nc 10.0.2.2 PORT` of N/2 MiB to a host peer that
 *   counts the bytes;
 * - ping: `ping -c 5 10.0.2.2`, the guest's average round trip.
 * With --ipv6 the same over IPv6: host servers on ::1 reached as fec0::2
 * (QEMU: `-netdev user,ipv6=on`), the guest's SLAAC address, `ping6`.
 * Times are host wall time from typing the command to its end marker on
 * the console (so they include the guest's own CPU work). Prints every
 * sample, the medians and the ratio Typevisor / QEMU.
 */
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { parseArgs } from "node:util";
import { ensureDefaultGuest, readDefaultGuestManifest } from "../src/guest/default-guest.ts";
import { GuestConsole, qemuCommand, typevisorCommand, type GuestBoot } from "../tests/support/guest-console.ts";
import { BASELINE, withBin } from "./baseline.ts";
import { median, printTable } from "./stats.ts";

const HANG_GUARD_MS = 30 * 60 * 1000;
const DHCP_SCRIPT = [
  "#!/bin/sh",
  'case "$1" in',
  "bound|renew) ifconfig $interface $ip netmask $subnet up; route add default gw $router dev $interface;;",
  "deconfig) ifconfig $interface 0.0.0.0 up;;",
  "esac",
];

interface Sample {
  downloadMs: number;
  uploadMs: number;
  pingMs: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { mib: { type: "string", default: "32" }, reps: { type: "string", default: "1" }, ipv6: { type: "boolean", default: false }, baseline: { type: "string" } } });
  const v6 = values.ipv6;
  const loopback = v6 ? "::1" : "127.0.0.1";
  const gateway = v6 ? "fec0::2" : "10.0.2.2";
  const gatewayInUrl = v6 ? "[fec0::2]" : "10.0.2.2";
  const mib = Number(values.mib);
  const reps = Number(values.reps);
  if (!(mib >= 1) || !Number.isInteger(reps) || reps < 1) throw new Error("--mib N (≥ 1) and --reps N (whole, ≥ 1)");
  const big = Buffer.alloc(mib << 20, 0x5a);
  const http = createHttpServer((_, res) => res.end(big)).listen(0, loopback);
  await once(http, "listening");
  const httpPort = (http.address() as { port: number }).port;
  let uploaded = 0;
  const sink = createServer({ allowHalfOpen: true }, (s) => {
    let n = 0;
    s.on("data", (d) => (n += d.length));
    s.on("end", () => {
      uploaded = n;
      s.end();
    });
  }).listen(0, loopback);
  await once(sink, "listening");
  const sinkPort = (sink.address() as { port: number }).port;

  const guest = await ensureDefaultGuest();
  const manifest = readDefaultGuestManifest(guest.dir);
  const tmp = mkdtempSync(join(tmpdir(), "typevisor-bench-net-"));
  const targets: string[] = ["qemu -netdev user", "typevisor --net user"];
  if (values.baseline !== undefined) targets.push(BASELINE);
  const samples = new Map<string, Sample[]>(targets.map((t) => [t, []]));
  console.log(`guest ⇄ host TCP over user-mode networking (${v6 ? "IPv6" : "IPv4"}): ${mib} MiB down, ${mib / 2} MiB up, ${reps} rep(s), ${new Date().toISOString()}`);
  try {
    for (let rep = 0; rep < reps; rep++) {
      for (const target of targets) {
        const disk = join(tmp, "disk.ext4");
        copyFileSync(guest.disk, disk);
        const b: GuestBoot = { kernel: guest.kernel, initrd: guest.initrd, append: manifest.append, drives: [{ file: disk }] };
        const command = target.startsWith("qemu")
          ? qemuCommand({ ...b, extraArgs: ["-netdev", `user,id=n0${v6 ? ",ipv6=on" : ""}`, "-device", "virtio-net-device,netdev=n0"] })
          : withBin(typevisorCommand({ ...b, extraArgs: ["--net", "user"] }), target === BASELINE ? values.baseline : undefined);
        const vm = GuestConsole.start(command, { label: target, hangGuardMs: HANG_GUARD_MS });
        try {
          await vm.waitForShell(manifest.readyMarker);
          if (v6) {
            // SLAAC: the global address, once duplicate address detection is over.
            await vm.check("for i in $(seq 1 120); do ip -6 addr show dev eth0 | grep -qE 'scope (global|site)' && ! ip -6 addr show dev eth0 | grep -q tentative && break; sleep 1; done");
          } else {
            await vm.check(`printf '%s\\n' ${DHCP_SCRIPT.map((l) => `'${l}'`).join(" ")} > /tmp/dhcp.sh && chmod +x /tmp/dhcp.sh`);
            await vm.check("udhcpc -i eth0 -s /tmp/dhcp.sh -q -n -t 5");
          }
          const down = await vm.run(`wget -q -O /dev/null http://${gatewayInUrl}:${httpPort}/`);
          if (down.status !== 0) throw new Error(`${target}: wget failed: ${down.output}`);
          uploaded = 0;
          const up = await vm.run(`dd if=/dev/zero bs=64k count=${mib * 8} 2>/dev/null | nc ${gateway} ${sinkPort}`);
          if (uploaded !== (mib << 20) / 2) throw new Error(`${target}: the host got ${uploaded} bytes of the upload`);
          const ping = await vm.check(`${v6 ? "ping6" : "ping"} -c 5 ${gateway}`);
          const avg = /min\/avg\/max = [\d.]+\/([\d.]+)\//.exec(ping);
          if (!avg) throw new Error(`${target}: no ping summary in ${ping}`);
          const s = { downloadMs: down.hostMs, uploadMs: up.hostMs, pingMs: Number(avg[1]) };
          samples.get(target)!.push(s);
          console.log(`  ${rep + 1}/${reps} ${target}: down ${(mib / (s.downloadMs / 1000)).toFixed(2)} MiB/s, up ${(mib / 2 / (s.uploadMs / 1000)).toFixed(2)} MiB/s, ping ${s.pingMs} ms`);
        } finally {
          await vm.kill();
        }
      }
    }
  } finally {
    http.close();
    sink.close();
    rmSync(tmp, { recursive: true, force: true });
  }
  const med = (t: string, k: keyof Sample) => median(samples.get(t)!.map((s) => s[k]));
  const q = targets[0];
  const rows = [["target", "download MiB/s", "upload MiB/s", "ping avg ms", "download time / qemu", "upload time / qemu"]];
  for (const t of targets) {
    rows.push([
      t,
      (mib / (med(t, "downloadMs") / 1000)).toFixed(2),
      (mib / 2 / (med(t, "uploadMs") / 1000)).toFixed(2),
      med(t, "pingMs").toFixed(3),
      (med(t, "downloadMs") / med(q, "downloadMs")).toFixed(2),
      (med(t, "uploadMs") / med(q, "uploadMs")).toFixed(2),
    ]);
  }
  printTable(rows);
}

await main();
