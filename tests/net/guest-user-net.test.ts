/**
 * A real guest on `--net user`: the default guest (Linux + busybox) gets its
 * address by DHCP, pings the gateway, resolves host names through 10.0.2.3,
 * fetches from a host HTTP server (a 32 MiB file, sha256 checked), talks
 * to a host `nc` peer, and serves a host client through a hostfwd= port
 * forward (busybox nc and httpd). The same steps run on QEMU's -netdev user
 * with the same guest for comparison; the timings are printed, not asserted.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer as createHttpServer, get, type Server as HttpServer } from "node:http";
import { createServer, connect, type Server } from "node:net";
import { createHash } from "node:crypto";
import { lookup } from "node:dns/promises";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { ensureDefaultGuest, readDefaultGuestManifest } from "../../src/guest/default-guest.ts";
import { GuestConsole, qemuCommand, typevisorCommand, type GuestBoot } from "../support/guest-console.ts";
import { freePort } from "./guest-sim.ts";
import { WRITE_DHCP_SCRIPT } from "./dhcp-script.ts";

const BIG = 32 << 20;
const tmp = mkdtempSync(join(tmpdir(), "typevisor-net-"));
const big = Buffer.alloc(BIG);
for (let i = 0; i < BIG; i++) big[i] = (i * 7 + (i >>> 9) + (i >>> 17)) & 0xff;
const bigSha = createHash("sha256").update(big).digest("hex");
let http: HttpServer;
let httpPort = 0;
let ncServer: Server;
let ncPort = 0;
const ncReceived: string[] = [];

before(async () => {
  http = createHttpServer((req, res) => (req.url === "/big" ? res.end(big) : res.end("hello from the host http server\n")));
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  httpPort = (http.address() as { port: number }).port;
  // The host end of `nc`: collects what the guest sends and answers with its length.
  ncServer = createServer({ allowHalfOpen: true }, (s) => {
    const parts: Buffer[] = [];
    s.on("data", (d) => parts.push(d));
    s.on("end", () => {
      const text = Buffer.concat(parts).toString();
      ncReceived.push(text);
      s.end(`host got ${text.length} bytes\n`);
    });
  });
  ncServer.listen(0, "127.0.0.1");
  await once(ncServer, "listening");
  ncPort = (ncServer.address() as { port: number }).port;
});

after(() => {
  http.close();
  ncServer.close();
  rmSync(tmp, { recursive: true, force: true });
});

function hostGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: "127.0.0.1", port, path: "/" }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (d) => parts.push(d));
      res.on("end", () => resolve(Buffer.concat(parts).toString()));
    }).on("error", reject);
  });
}

async function boot(target: "typevisor" | "qemu", fwdPort: number): Promise<GuestConsole> {
  const guest = await ensureDefaultGuest();
  const manifest = readDefaultGuestManifest(guest.dir);
  const disk = join(tmp, `${target}.ext4`);
  copyFileSync(guest.disk, disk);
  const b: GuestBoot = { kernel: guest.kernel, initrd: guest.initrd, append: manifest.append, drives: [{ file: disk }] };
  const fwd = `hostfwd=tcp:127.0.0.1:${fwdPort}-:8080`;
  const vm =
    target === "typevisor"
      ? GuestConsole.start(typevisorCommand({ ...b, extraArgs: ["--net", `user,${fwd}`] }))
      : // ipv6=off: QEMU 7.2's slirp stops answering DHCP once an IPv6 guest has spoken IPv6 first (docs/network.md).
        GuestConsole.start(qemuCommand({ ...b, extraArgs: ["-netdev", `user,id=n0,ipv6=off,${fwd}`, "-device", "virtio-net-device,netdev=n0"] }));
  await vm.waitForShell(manifest.readyMarker);
  return vm;
}

/** The whole exercise on one booted guest; returns timings in host ms. */
async function exercise(vm: GuestConsole, fwdPort: number, withDns: boolean): Promise<Record<string, number>> {
  const times: Record<string, number> = {};
  await vm.check(WRITE_DHCP_SCRIPT);
  const dhcp = await vm.run("udhcpc -i eth0 -s /tmp/dhcp.sh -q -n -t 5");
  assert.equal(dhcp.status, 0, dhcp.output);
  assert.match(dhcp.output, /lease of 10\.0\.2\.15 obtained from 10\.0\.2\.2/);
  times.dhcp = dhcp.hostMs;
  assert.match(await vm.check("ifconfig eth0"), /inet addr:10\.0\.2\.15 +Bcast:10\.0\.2\.255 +Mask:255\.255\.255\.0/);

  const ping = await vm.run("ping -c 3 10.0.2.2");
  assert.match(ping.output, /3 packets transmitted, 3 packets received/);
  times.ping3 = ping.hostMs;

  const hello = await vm.run(`wget -q -O - http://10.0.2.2:${httpPort}/`);
  assert.equal(hello.output, "hello from the host http server\n");
  times.wgetSmall = hello.hostMs;

  if (withDns) {
    assert.match(await vm.check("nslookup localhost 10.0.2.3"), /Name:\s+localhost\nAddress: 10\.0\.2\.2\n/);
    // A name only the host knows (its /etc/hosts maps its hostname to loopback), used by wget through resolv.conf.
    const name = hostname();
    const onHost = await lookup(name, { family: 4 }).catch(() => null);
    if (onHost?.address.startsWith("127.")) {
      assert.equal((await vm.check(`wget -q -O - http://${name}:${httpPort}/`)), "hello from the host http server\n");
    }
  }

  // guest → host with nc: the host peer sees the bytes and answers after the guest's half-close.
  const nc = await vm.check(`echo hello-from-the-guest | nc 10.0.2.2 ${ncPort}`);
  assert.equal(nc, "host got 21 bytes\n");
  assert.equal(ncReceived.at(-1), "hello-from-the-guest\n");

  // host → guest through the forward: busybox nc listening on 8080.
  await vm.check("(nc -l -p 8080 > /tmp/got.txt &) ; sleep 1");
  const s = connect(fwdPort, "127.0.0.1");
  s.end("hello-from-the-host\n");
  s.resume();
  await once(s, "close");
  await vm.check("sleep 1");
  assert.equal(await vm.check("cat /tmp/got.txt"), "hello-from-the-host\n");

  // host → guest HTTP: busybox httpd behind the forward.
  await vm.check("mkdir -p /tmp/www && echo served-by-the-guest > /tmp/www/index.html && httpd -p 8080 -h /tmp/www");
  assert.equal(await hostGet(fwdPort), "served-by-the-guest\n");

  const download = await vm.run(`wget -q -O - http://10.0.2.2:${httpPort}/big | sha256sum`);
  assert.equal(download.output.split(/\s/)[0], bigSha, download.output);
  times.wget32MiB = download.hostMs;
  return times;
}

test("a real guest on --net user: DHCP, ping, DNS, wget (32 MiB, sha256), nc both ways, hostfwd to nc and httpd", async () => {
  const fwdPort = await freePort();
  const vm = await boot("typevisor", fwdPort);
  try {
    const times = await exercise(vm, fwdPort, true);
    console.log(`typevisor --net user: ${JSON.stringify(times, (_, v) => (typeof v === "number" ? Math.round(v) : v))}`);
    vm.type("poweroff");
    assert.deepEqual(await vm.exited(), { code: 0, signal: null });
  } finally {
    await vm.kill();
  }
});

test("the same steps on QEMU's -netdev user with the same guest (reference)", async () => {
  const fwdPort = await freePort();
  const vm = await boot("qemu", fwdPort);
  try {
    const times = await exercise(vm, fwdPort, false);
    console.log(`qemu -netdev user: ${JSON.stringify(times, (_, v) => (typeof v === "number" ? Math.round(v) : v))}`);
  } finally {
    await vm.kill();
  }
});
