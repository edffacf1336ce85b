/**
 * The default guest's IPv6 and SSH on --net user, with real peers: eth0
 * takes a SLAAC address in fec0::/64 from the router advertisement, pings
 * fec0::2, resolves through fec0::3, fetches a 32 MiB file by wget from a
 * host server bound to ::1 (sha256 checked), and the host's OpenSSH client
 * runs `uname -a` in the guest through hostfwd=tcp::PORT-:22 (dropbear,
 * root's blank password). The IPv6 steps run on QEMU's -netdev user with
 * the same guest for comparison (not ssh: QEMU 7.2's slirp gives this guest
 * no DHCP lease with ipv6=on, so its IPv4 forward has nowhere to go; see
 * docs/network.md); timings are printed, not asserted.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { ensureDefaultGuest, readDefaultGuestManifest } from "../../src/guest/default-guest.ts";
import { GuestConsole, qemuCommand, typevisorCommand, type GuestBoot } from "../support/guest-console.ts";
import { freePort } from "./guest-sim.ts";

const BIG = 32 << 20;
const tmp = mkdtempSync(join(tmpdir(), "typevisor-net6-"));
const big = Buffer.alloc(BIG);
for (let i = 0; i < BIG; i++) big[i] = (i * 13 + (i >>> 11)) & 0xff;
const bigSha = createHash("sha256").update(big).digest("hex");
let http: HttpServer;
let httpPort = 0;

before(async () => {
  http = createHttpServer((req, res) => res.end(req.url === "/big" ? big : "hello over IPv6\n"));
  http.listen(0, "::1");
  await once(http, "listening");
  httpPort = (http.address() as { port: number }).port;
});

after(() => {
  http.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function boot(target: "typevisor" | "qemu", sshPort: number): Promise<GuestConsole> {
  const guest = await ensureDefaultGuest();
  const manifest = readDefaultGuestManifest(guest.dir);
  const disk = join(tmp, `${target}.ext4`);
  copyFileSync(guest.disk, disk);
  const b: GuestBoot = { kernel: guest.kernel, initrd: guest.initrd, append: manifest.append, drives: [{ file: disk }], rng: true };
  const fwd = `hostfwd=tcp:127.0.0.1:${sshPort}-:22`;
  const vm =
    target === "typevisor"
      ? GuestConsole.start(typevisorCommand({ ...b, extraArgs: ["--net", `user,${fwd}`] }))
      : GuestConsole.start(qemuCommand({ ...b, extraArgs: ["-netdev", `user,id=n0,ipv6=on,${fwd}`, "-device", "virtio-net-device,netdev=n0"] }));
  await vm.waitForShell(manifest.readyMarker);
  return vm;
}

/** The host's OpenSSH client, as a user would type it (plus: no known_hosts, the guest's host key is new each boot). */
function ssh(port: number, command: string): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const start = performance.now();
  const args = ["-p", String(port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
    "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=600", "root@127.0.0.1", command];
  return new Promise((resolve) => {
    execFile("ssh", args, { encoding: "utf8" }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : 255;
      resolve({ code, stdout, stderr, ms: performance.now() - start });
    });
  });
}

async function exercise(vm: GuestConsole, sshPort: number | null): Promise<Record<string, number>> {
  const times: Record<string, number> = {};
  // SLAAC: wait until the global address has passed duplicate address detection.
  const slaac = await vm.run(
    "for i in $(seq 1 60); do ip -6 addr show dev eth0 | grep -qE 'scope (global|site)' && ! ip -6 addr show dev eth0 | grep -q tentative && break; sleep 1; done; ip -6 addr show dev eth0; ip -6 route",
  );
  assert.match(slaac.output, /inet6 fec0::[0-9a-f:]+\/64 scope site/, slaac.output); // fec0::/10 is site-local
  assert.match(slaac.output, /default via fe80::2 dev eth0/, slaac.output);
  times.slaac = slaac.hostMs;

  const ping = await vm.run("ping6 -c 3 fec0::2");
  assert.match(ping.output, /3 packets transmitted, 3 packets received/, ping.output);
  times.ping6x3 = ping.hostMs;

  assert.equal(await vm.check(`wget -q -O - 'http://[fec0::2]:${httpPort}/'`), "hello over IPv6\n");
  const download = await vm.run(`wget -q -O - 'http://[fec0::2]:${httpPort}/big' | sha256sum`);
  assert.equal(download.output.split(/\s/)[0], bigSha, download.output);
  times.wget32MiBv6 = download.hostMs;
  if (sshPort === null) return times;

  const first = await ssh(sshPort, "uname -a");
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^Linux typevisor 6\.1\.\S+ .* riscv64 GNU\/Linux\n$/);
  times.sshFirst = first.ms; // includes making the host key
  const second = await ssh(sshPort, "cat /data/hello.txt; id -u");
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stdout, "hello from the Typevisor data disk\n0\n");
  times.ssh = second.ms;
  return times;
}

const round = (_: string, v: unknown) => (typeof v === "number" ? Math.round(v) : v);

test("the default guest on --net user: SLAAC on eth0, ping6 fec0::2, wget over IPv6 from a host server on ::1 (32 MiB, sha256), ssh through hostfwd", async () => {
  const sshPort = await freePort();
  const vm = await boot("typevisor", sshPort);
  try {
    console.log(`typevisor --net user: ${JSON.stringify(await exercise(vm, sshPort), round)}`);
    vm.type("poweroff");
    assert.deepEqual(await vm.exited(), { code: 0, signal: null });
  } finally {
    await vm.kill();
  }
});

test("the same steps on QEMU's -netdev user,ipv6=on with the same guest (reference)", async () => {
  const sshPort = await freePort();
  const vm = await boot("qemu", sshPort);
  try {
    console.log(`qemu -netdev user: ${JSON.stringify(await exercise(vm, null), round)}`);
  } finally {
    await vm.kill();
  }
});
