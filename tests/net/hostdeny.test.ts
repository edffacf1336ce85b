/** hostdeny=PORT: the hypervisor daemon's API port is closed to guests, through the gateway and through the host's own addresses. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import { GuestSim, GuestTcp, HOST_IP, ip } from "./guest-sim.ts";
import { parseUserNetSpec, UserNetOptionError } from "../../src/backends/net/user/options.ts";
import { RST } from "../../src/backends/net/user/tcp-segment.ts";

test("hostdeny: a guest SYN to the denied port on the gateway or a host address gets a RST; other ports still connect", async () => {
  const ignoreReset = (s: import("node:net").Socket) => s.on("error", () => {}).end(); // the sim closes without a FIN
  const denied = createServer(ignoreReset);
  const open = createServer(ignoreReset);
  await Promise.all([denied, open].map((srv) => new Promise<void>((r) => srv.listen(0, "0.0.0.0", r))));
  const deniedPort = (denied.address() as AddressInfo).port;
  const openPort = (open.address() as AddressInfo).port;
  const sim = new GuestSim(parseUserNetSpec(`user,hostdeny=${deniedPort}`));
  try {
    const viaGateway = await new GuestTcp(sim, 42000, HOST_IP, deniedPort).connect();
    assert.ok(viaGateway.flags & RST, "the gateway (host loopback) refuses the denied port");
    const hostAddress = Object.values(networkInterfaces()).flat().find((a) => a?.family === "IPv4" && !a.internal)?.address;
    if (hostAddress !== undefined) {
      const viaAddress = await new GuestTcp(sim, 42001, ip(hostAddress), deniedPort).connect();
      assert.ok(viaAddress.flags & RST, `the host's own address ${hostAddress} refuses it too`);
    }
    const allowed = await new GuestTcp(sim, 42002, HOST_IP, openPort).connect();
    assert.equal(allowed.flags & RST, 0, "another host port still connects");
  } finally {
    sim.close();
    denied.close();
    open.close();
  }
});

test("hostdeny: a bad port is a one-line option error", () => {
  assert.throws(() => parseUserNetSpec("user,hostdeny=70000"), UserNetOptionError);
  assert.throws(() => parseUserNetSpec("user,hostdeny=x"), /hostdeny=x: expected a TCP port/);
});
