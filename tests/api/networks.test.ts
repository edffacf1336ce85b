/**
 * A daemon network is one switch the daemon owns: its socket appears under
 * <data-dir>/run when the network is created, its NAT uplink answers on
 * the wire (an ARP request for the gateway sent into the socket gets the
 * reply), two VMs on the network join that same switch with MACs of their
 * own, and deleting the network removes the socket. No guest is booted.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { once } from "node:events";
import { join } from "node:path";
import { vmConfigOf } from "../../src/hypervisor/vm-config.ts";
import { TestDaemon } from "./harness.ts";
import { echoVmBody } from "./small-guest.ts";

const STATION_MAC = [0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc];

/** A length-prefixed ARP "who has `target`" from 10.0.9.15, as a switch peer sends it. */
function arpRequest(target: number[]): Buffer {
  const frame = Buffer.alloc(60);
  frame.fill(0xff, 0, 6);
  frame.set(STATION_MAC, 6);
  frame.writeUInt16BE(0x0806, 12);
  frame.writeUInt16BE(1, 14); // Ethernet
  frame.writeUInt16BE(0x0800, 16); // IPv4
  frame[18] = 6;
  frame[19] = 4;
  frame.writeUInt16BE(1, 20); // request
  frame.set(STATION_MAC, 22);
  frame.set([10, 0, 9, 15], 28);
  frame.set(target, 38);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(frame.length, 0);
  return Buffer.concat([prefix, frame]);
}

/** Reads framed frames from the switch until an ARP reply arrives; returns its sender IP. */
async function arpReply(socket: Socket): Promise<string> {
  let buffered = Buffer.alloc(0);
  for (;;) {
    const [chunk] = (await once(socket, "data")) as [Buffer];
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32BE(0)) {
      const frame = buffered.subarray(4, 4 + buffered.readUInt32BE(0));
      buffered = buffered.subarray(4 + frame.length);
      if (frame.readUInt16BE(12) === 0x0806 && frame.readUInt16BE(20) === 2) return [...frame.subarray(28, 32)].join(".");
    }
  }
}

test("a network is a switch: its socket exists, its NAT uplink answers ARP, two VMs join the same switch, delete removes it", async () => {
  const d = await TestDaemon.start();
  let peer: Socket | null = null;
  try {
    const created = await d.unix("POST", "/v1/networks", { name: "lan", nat: true, subnet: "10.0.9.0/24" });
    assert.equal(created.status, 201, created.text);
    const path = join(d.dataDir, "run", "net-lan.sock");
    assert.equal(created.body.socket, path);
    assert.equal(created.body.switchOpen, true);
    assert.ok(existsSync(path), "the switch listens");

    peer = connect(path);
    await once(peer, "connect");
    const reply = arpReply(peer);
    peer.write(arpRequest([10, 0, 9, 2]));
    assert.equal(await reply, "10.0.9.2", "the NAT uplink is the gateway on the switch");

    for (const vm of ["a", "b"]) assert.equal((await d.unix("POST", "/v1/vms", await echoVmBody(vm, { nics: [{ network: "lan" }] }))).status, 201);
    const h = d.daemon.hypervisor;
    const [a, b] = await Promise.all(["a", "b"].map((vm) => vmConfigOf(h.supervisor(vm).record, h.pools, h.networks)));
    assert.equal(a.nics[0].backend, "switch");
    assert.equal(a.nics[0].path, path);
    assert.equal(b.nics[0].path, path, "both VMs join the one switch");
    assert.notEqual(a.nics[0].mac, b.nics[0].mac, "VMs on one switch need MACs of their own");

    assert.equal((await d.unix("POST", "/v1/vms/a/actions/start")).body.state, "running");
    const view = (await d.unix("GET", "/v1/networks/lan")).body;
    assert.equal(view.ports, 2, "the test's peer and the running VM's NIC are plugged into the daemon's switch");
    assert.deepEqual(view.usedBy, ["a", "b"]);
    assert.equal((await d.unix("DELETE", "/v1/networks/lan")).status, 409);

    assert.equal((await d.unix("DELETE", "/v1/vms/a?force=true")).status, 204);
    assert.equal((await d.unix("DELETE", "/v1/vms/b")).status, 204);
    assert.equal((await d.unix("DELETE", "/v1/networks/lan")).status, 204);
    assert.ok(!existsSync(path), "deleting the network closes its switch and removes the socket");
  } finally {
    peer?.destroy();
    await d.close();
  }
});
