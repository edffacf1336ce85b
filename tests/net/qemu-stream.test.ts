/**
 * `--net switch=PATH`'s backend against a real QEMU that listens
 * (`-netdev stream,server=on,addr.type=unix`): the same framing in the
 * other direction, so a Typevisor NIC can be cabled straight to a QEMU
 * guest with no switch. The host plays a station at 10.0.2.15 and the QEMU
 * guest (10.0.2.16, set from its shell) answers its ARP request and ping.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDefaultGuest, readDefaultGuestManifest } from "../../src/guest/default-guest.ts";
import { SwitchClientBackend } from "../../src/backends/net/switch-client.ts";
import { ETHERTYPE_ARP, etherType } from "../../src/backends/net/user/ethernet.ts";
import { GuestConsole, qemuCommand } from "../support/guest-console.ts";
import { GuestSim, ip, parseReceived } from "./guest-sim.ts";

const tmp = mkdtempSync(join(tmpdir(), "typevisor-qemu-stream-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const QEMU_MAC = Uint8Array.of(0x52, 0x54, 0, 0, 0, 0x0c);

test("a switch=PATH NIC cabled to QEMU's -netdev stream server: ARP and ping with a QEMU guest", async () => {
  const guest = await ensureDefaultGuest();
  const manifest = readDefaultGuestManifest(guest.dir);
  const disk = join(tmp, "q.ext4");
  copyFileSync(guest.disk, disk);
  const socket = join(tmp, "cable.sock");
  const netdev = ["-netdev", `stream,id=n0,server=on,addr.type=unix,addr.path=${socket}`, "-device", "virtio-net-device,netdev=n0,mac=52:54:00:00:00:0c"];
  const q = GuestConsole.start(qemuCommand({ kernel: guest.kernel, initrd: guest.initrd, append: manifest.append, drives: [{ file: disk }], extraArgs: netdev }), { label: "QEMU guest" });
  let nic: SwitchClientBackend | null = null;
  try {
    await q.waitForShell(manifest.readyMarker);
    await q.check("while pidof udhcpc >/dev/null; do sleep 1; done; ifconfig eth0 10.0.2.16 netmask 255.255.255.0 up");
    nic = new SwitchClientBackend(socket);
    const got: Uint8Array[] = [];
    nic.onReceive((f) => got.push(Uint8Array.from(f)));
    await nic.ready();
    const sim = new GuestSim(); // only its frame builders
    sim.close();
    const until = async (what: string, found: () => Uint8Array | undefined): Promise<Uint8Array> => {
      for (let i = 0; i < 600; i++) {
        const f = found();
        if (f !== undefined) return f;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.fail(`no ${what} from the QEMU guest; got ${got.length} frames`);
    };
    nic.send(sim.arpRequest(ip("10.0.2.16")));
    const arp = await until("ARP reply", () => got.find((f) => etherType(f) === ETHERTYPE_ARP && f[21] === 2));
    assert.deepEqual(arp.subarray(22, 28), QEMU_MAC, "the reply names the QEMU guest's MAC");
    assert.deepEqual(arp.subarray(28, 32), Uint8Array.of(10, 0, 2, 16));
    const echo = sim.icmpEcho(ip("10.0.2.16"), 0x4242, 1, new TextEncoder().encode("through QEMU's stream framing"));
    echo.set(QEMU_MAC, 0);
    nic.send(echo);
    const reply = await until("echo reply", () => got.find((f) => parseReceived(f)?.ip.protocol === 1 && f[34] === 0));
    assert.equal(new TextDecoder().decode(reply.subarray(42)), "through QEMU's stream framing");
  } finally {
    nic?.close();
    await q.kill();
  }
});
