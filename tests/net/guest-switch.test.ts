/**
 * Real guests on a switch across processes: `typevisor switch PATH
 * --uplink user` runs the switch; two `typevisor run --net switch=PATH`
 * guests and a real QEMU (`-netdev stream,server=off,addr.type=unix`) join
 * it. Each gets its own DHCP lease from the NAT uplink; they ping each
 * other, move 4 MiB with its sha256 checked, and reach a host server through
 * the uplink. A hostile peer on the same socket (a huge length, a flood it
 * never reads) changes nothing for them. One guest's `dump=` capture is
 * read back by `tcpdump -r`. The SIGTERM'd switch removes its socket.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { connect } from "node:net";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { ensureDefaultGuest, readDefaultGuestManifest } from "../../src/guest/default-guest.ts";
import { GuestConsole, qemuCommand, typevisorCommand, type GuestBoot } from "../support/guest-console.ts";
import { TYPEVISOR_BIN } from "../support/run.ts";
import { WRITE_DHCP_SCRIPT } from "./dhcp-script.ts";

const tmp = mkdtempSync(join(tmpdir(), "typevisor-switch-"));
const socketPath = join(tmp, "sw.sock");
const pcap = join(tmp, "a.pcap");
let http: HttpServer;
let httpPort = 0;

before(async () => {
  http = createHttpServer((_req, res) => res.end("hello through the uplink\n"));
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  httpPort = (http.address() as { port: number }).port;
});

after(() => {
  http.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function startSwitch(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [TYPEVISOR_BIN, "switch", socketPath, "--uplink", "user"], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  while (!err.includes("listening")) {
    if (child.exitCode !== null) throw new Error(`the switch exited: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return child;
}

async function bootGuests(): Promise<{ a: GuestConsole; b: GuestConsole; q: GuestConsole; marker: string }> {
  const guest = await ensureDefaultGuest();
  const manifest = readDefaultGuestManifest(guest.dir);
  const boot = (name: string): GuestBoot => {
    const disk = join(tmp, `${name}.ext4`);
    copyFileSync(guest.disk, disk);
    return { kernel: guest.kernel, initrd: guest.initrd, append: manifest.append, drives: [{ file: disk }] };
  };
  const a = GuestConsole.start(typevisorCommand({ ...boot("a"), extraArgs: ["--net", `switch=${socketPath},mac=52:54:00:00:00:0a,dump=${pcap}`] }), { label: "guest A" });
  const b = GuestConsole.start(typevisorCommand({ ...boot("b"), extraArgs: ["--net", `switch=${socketPath},mac=52:54:00:00:00:0b`] }), { label: "guest B" });
  const netdev = ["-netdev", `stream,id=n0,server=off,addr.type=unix,addr.path=${socketPath}`, "-device", "virtio-net-device,netdev=n0,mac=52:54:00:00:00:0c"];
  const q = GuestConsole.start(qemuCommand({ ...boot("q"), extraArgs: netdev }), { label: "QEMU guest" });
  return { a, b, q, marker: manifest.readyMarker };
}

/** DHCP through the switch's uplink; returns the leased address. */
async function lease(vm: GuestConsole): Promise<string> {
  await vm.check(WRITE_DHCP_SCRIPT);
  const dhcp = await vm.run("udhcpc -i eth0 -s /tmp/dhcp.sh -q -n -t 5");
  assert.equal(dhcp.status, 0, dhcp.output);
  const m = /lease of (10\.0\.2\.\d+) obtained from 10\.0\.2\.2/.exec(dhcp.output);
  assert.ok(m, dhcp.output);
  return m[1];
}

/** A peer that breaks the framing, and one that floods broadcasts and never reads. */
async function hostilePeers(): Promise<void> {
  const garbage = connect(socketPath);
  await once(garbage, "connect");
  garbage.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
  garbage.on("error", () => {});
  await once(garbage, "close"); // the switch hangs up on a length no peer may send
  const flood = connect(socketPath);
  await once(flood, "connect");
  flood.pause(); // never reads what the switch sends
  const frame = Buffer.alloc(4 + 60);
  frame.writeUInt32BE(60, 0);
  frame.fill(0xff, 4, 10); // broadcast
  frame.set([0x02, 0, 0, 0, 0, 0x66], 10);
  frame.writeUInt16BE(0x88b5, 16);
  for (let i = 0; i < 20000; i++) flood.write(frame);
  await new Promise((r) => setTimeout(r, 2000));
  flood.destroy();
}

test("two typevisor guests and a QEMU guest on `typevisor switch --uplink user`: own leases, ping, 4 MiB with sha256, the NAT, a pcap, hostile peers", async () => {
  const sw = await startSwitch();
  let guests: Awaited<ReturnType<typeof bootGuests>> | null = null;
  try {
    guests = await bootGuests();
    const { a, b, q, marker } = guests;
    await Promise.all([a.waitForShell(marker), b.waitForShell(marker), q.waitForShell(marker)]);
    const ipA = await lease(a);
    const ipB = await lease(b);
    const ipQ = await lease(q);
    assert.equal(new Set([ipA, ipB, ipQ]).size, 3, `distinct leases per MAC: ${ipA} ${ipB} ${ipQ}`);

    assert.match((await a.run(`ping -c 3 ${ipB}`)).output, /3 packets transmitted, 3 packets received/);
    assert.match((await q.run(`ping -c 3 ${ipA}`)).output, /3 packets transmitted, 3 packets received/, "QEMU reaches a typevisor guest");
    assert.match((await b.run(`ping -c 2 ${ipQ}`)).output, /2 packets transmitted, 2 packets received/, "and back");

    // 4 MiB from A to B with busybox nc, checked end to end.
    // The digest wherever it is in the output (a kernel message may come first on the console).
    const sum = (text: string) => /\b[0-9a-f]{64}\b/.exec(text)?.[0] ?? text;
    const sent = sum(await a.check("dd if=/dev/urandom of=/tmp/data bs=64k count=64 2>/dev/null && sha256sum /tmp/data"));
    await b.check("(nc -l -p 9000 > /tmp/got &) ; sleep 1");
    const move = await a.run(`nc ${ipB} 9000 < /tmp/data`);
    assert.equal(move.status, 0, move.output);
    await b.check("sleep 1");
    assert.equal(sum(await b.check("sha256sum /tmp/got")), sent);
    console.log(`guest A → guest B over the switch: 4 MiB in ${Math.round(move.hostMs)} ms (${(4000 / move.hostMs).toFixed(2)} MiB/s)`);

    // The outside through the shared uplink.
    assert.equal(await a.check(`wget -q -O - http://10.0.2.2:${httpPort}/`), "hello through the uplink\n");
    assert.equal(await q.check(`wget -q -O - http://10.0.2.2:${httpPort}/`), "hello through the uplink\n");

    console.log("hostile peers on the switch's socket");
    await hostilePeers();
    assert.equal(sw.exitCode, null, "the switch is still running");
    assert.match((await a.run(`ping -c 2 ${ipB}`)).output, /2 packets transmitted, 2 packets received/, "the guests still talk");

    console.log("guest A powers off");
    a.type("poweroff");
    assert.deepEqual(await a.exited(), { code: 0, signal: null });
    console.log("tcpdump -r");
    // Only the frames asserted on: DHCP, ICMP, SYNs (the 4 MiB would be thousands of lines).
    const filter = "udp port 67 or udp port 68 or icmp or tcp[tcpflags] & tcp-syn != 0";
    const dump = execFileSync("tcpdump", ["-n", "-r", pcap, filter], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    assert.match(dump, new RegExp(`IP ${ipA.replaceAll(".", "\\.")} > ${ipB.replaceAll(".", "\\.")}: ICMP echo request`));
    assert.match(dump, new RegExp(`IP ${ipB.replaceAll(".", "\\.")} > ${ipA.replaceAll(".", "\\.")}: ICMP echo reply`));
    assert.match(dump, /BOOTP\/DHCP, Reply/);
    assert.match(dump, new RegExp(`${ipA.replaceAll(".", "\\.")}\\.\\d+ > ${ipB.replaceAll(".", "\\.")}\\.9000: Flags \\[S\\]`));
  } finally {
    if (guests !== null) await Promise.all([guests.a.kill(), guests.b.kill(), guests.q.kill()]);
    console.log("SIGTERM to the switch");
    const exit = sw.exitCode === null && sw.signalCode === null ? once(sw, "exit") : null;
    sw.kill("SIGTERM");
    await exit;
  }
  assert.equal(sw.exitCode, 0, "SIGTERM ends the switch cleanly");
  assert.equal(existsSync(socketPath), false, "and it removes its socket");
});
