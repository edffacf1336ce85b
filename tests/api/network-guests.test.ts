/**
 * The point of a daemon network: two default guests (Linux + busybox) on
 * one network get distinct DHCP leases from its shared NAT uplink and ping
 * each other through the daemon's switch — with per-NIC NATs (before) each
 * guest was alone on its own 10.0.2.0/24 and the ping could not work — and
 * the network's port forward reaches the guest holding the first lease.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { DEFAULT_GUEST_READY_MARKER } from "../../src/guest/default-guest-config.ts";
import { TestDaemon } from "./harness.ts";
import { ConsoleClient } from "./ws-client.ts";

/** The udhcpc script: configure eth0 from the lease. */
const DHCP_SCRIPT = ["#!/bin/sh", 'case "$1" in', "bound|renew) ifconfig $interface $ip netmask $subnet up;;", "deconfig) ifconfig $interface 0.0.0.0 up;;", "esac"];

async function lease(c: ConsoleClient, from: number): Promise<{ ip: string; at: number }> {
  c.send(`printf '%s\\n' ${DHCP_SCRIPT.map((l) => `'${l}'`).join(" ")} > /tmp/dhcp.sh && chmod +x /tmp/dhcp.sh && udhcpc -i eth0 -s /tmp/dhcp.sh -q -n -t 5; echo DHCP-$?\n`);
  const at = await c.waitForMatch(/DHCP-\d+/, from);
  const out = c.output.slice(from, at);
  assert.match(out, /DHCP-0/, out);
  const m = /lease of (10\.0\.7\.\d+) obtained from 10\.0\.7\.2/.exec(out);
  assert.ok(m, out);
  return { ip: m[1], at };
}

test("two default guests on one network: distinct DHCP leases from its NAT, they ping each other", async () => {
  const d = await TestDaemon.start();
  const consoles: ConsoleClient[] = [];
  try {
    assert.equal((await d.unix("POST", "/v1/networks", { name: "lan", nat: true, subnet: "10.0.7.0/24", forwards: [{ proto: "tcp", hostPort: 0, guestPort: 22 }] })).status, 201);
    for (const vm of ["a", "b"]) {
      const created = await d.unix("POST", "/v1/vms", { name: vm, memoryMiB: 128, nics: [{ network: "lan" }] });
      assert.equal(created.status, 201, created.text);
      const started = await d.unix("POST", `/v1/vms/${vm}/actions/start`);
      assert.equal(started.body.state, "running", started.text);
      consoles.push(await ConsoleClient.open(d.endpoint, vm, d.adminToken));
    }
    const [a, b] = consoles;
    const ready = await Promise.all([a, b].map((c) => c.waitForMatch(new RegExp(DEFAULT_GUEST_READY_MARKER))));
    const la = await lease(a, ready[0]);
    const lb = await lease(b, ready[1]);
    assert.notEqual(la.ip, lb.ip, "each guest its own lease");
    assert.equal((await d.unix("GET", "/v1/networks/lan")).body.ports, 2, "both NICs are ports of the network's switch");

    a.send(`ping -c 2 -W 5 ${lb.ip} >/dev/null; echo PING-$?\n`);
    const pa = await a.waitForMatch(/PING-\d+/, la.at);
    assert.match(a.output.slice(la.at, pa), /PING-0/, a.output.slice(la.at));
    b.send(`ping -c 2 -W 5 ${la.ip} >/dev/null; echo PING-$?\n`);
    const pb = await b.waitForMatch(/PING-\d+/, lb.at);
    assert.match(b.output.slice(lb.at, pb), /PING-0/, b.output.slice(lb.at));

    // The network's one forward reaches the guest at the first lease (.15), whichever VM holds it: its dropbear greets.
    assert.ok([la.ip, lb.ip].includes("10.0.7.15"), `${la.ip} ${lb.ip}`);
    const port = d.daemon.hypervisor.networks.switchOf("lan").nat!.boundForwards[0].boundPort;
    const ssh = connect(port, "127.0.0.1");
    const [banner] = (await once(ssh, "data")) as [Buffer];
    ssh.destroy();
    assert.match(banner.toString("latin1"), /^SSH-2\.0-dropbear/);

    for (const vm of ["a", "b"]) assert.equal((await d.unix("POST", `/v1/vms/${vm}/actions/stop`)).body.state, "stopped");
    assert.equal(d.daemon.hypervisor.activeVms, 0);
  } finally {
    for (const c of consoles) c.close();
    await d.close();
  }
});
