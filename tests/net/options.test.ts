/** `--net user,...` option parsing, as QEMU's -netdev user. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultUserNetConfig, parseUserNetSpec, UserNetOptionError } from "../../src/backends/net/user/options.ts";
import { formatIpv4, parseIpv4 } from "../../src/backends/net/user/addresses.ts";

test("defaults are QEMU's: 10.0.2.0/24, host .2, dns .3, dhcpstart .15, not restricted", () => {
  const c = parseUserNetSpec("user");
  assert.deepEqual(c, defaultUserNetConfig());
  assert.equal(formatIpv4(c.network), "10.0.2.0");
  assert.equal(c.prefix, 24);
  assert.equal(formatIpv4(c.host), "10.0.2.2");
  assert.equal(formatIpv4(c.dns), "10.0.2.3");
  assert.equal(formatIpv4(c.dhcpStart), "10.0.2.15");
  assert.equal(c.restrict, false);
  assert.equal(c.hostname, null);
});

test("net= moves the derived addresses; host=, dns=, dhcpstart=, restrict=, hostname= override", () => {
  const c = parseUserNetSpec("user,net=192.168.5.0/255.255.255.0,host=192.168.5.1,restrict=on,hostname=box");
  assert.equal(formatIpv4(c.host), "192.168.5.1");
  assert.equal(formatIpv4(c.dns), "192.168.5.3");
  assert.equal(formatIpv4(c.dhcpStart), "192.168.5.15");
  assert.equal(c.restrict, true);
  assert.equal(c.hostname, "box");
  const d = parseUserNetSpec("user,net=10.9.0.0/16,dns=10.9.0.53,dhcpstart=10.9.1.1");
  assert.equal(d.prefix, 16);
  assert.equal(formatIpv4(d.dns), "10.9.0.53");
  assert.equal(formatIpv4(d.dhcpStart), "10.9.1.1");
});

test("hostfwd= is repeatable: tcp by default, loopback unless an address is given, udp too", () => {
  const c = parseUserNetSpec("user,hostfwd=tcp::2222-:22,hostfwd=::8080-10.0.2.20:80,hostfwd=udp:0.0.0.0:5353-:53");
  assert.deepEqual(c.hostForwards, [
    { protocol: "tcp", hostAddress: "127.0.0.1", hostPort: 2222, guestAddress: null, guestPort: 22 },
    { protocol: "tcp", hostAddress: "127.0.0.1", hostPort: 8080, guestAddress: parseIpv4("10.0.2.20"), guestPort: 80 },
    { protocol: "udp", hostAddress: "0.0.0.0", hostPort: 5353, guestAddress: null, guestPort: 53 },
  ]);
});

test("bad options are one-line errors that say what is expected", () => {
  const bad: [string, RegExp][] = [
    ["usr", /expected user\[,option=value/],
    ["user,bogus=1", /unknown option "bogus"/],
    ["user,restrict", /is not option=value/],
    ["user,net=10.0.2.0/33", /net=10\.0\.2\.0\/33: expected ADDRESS/],
    ["user,host=10.0.3.2", /host=10\.0\.3\.2 is not a host address in net=10\.0\.2\.0\/24/],
    ["user,dns=10.0.2.2", /host and dns must differ/],
    ["user,dhcpstart=10.0.2.3", /dhcpstart=10\.0\.2\.3 collides/],
    ["user,restrict=maybe", /restrict=maybe: expected on or off/],
    ["user,hostname=a b", /hostname=a b: expected letters/],
    ["user,hostfwd=tcp:2222:22", /hostfwd=tcp:2222:22: expected \[tcp\|udp\]/],
    ["user,hostfwd=sctp::1-:2", /expected \[tcp\|udp\]/],
    ["user,hostfwd=tcp::70000-:22", /host port 70000 is not 0-65535/],
    ["user,hostfwd=tcp::22-:0", /guest port 0 is not 1-65535/],
    ["user,hostfwd=tcp::22-192.168.0.1:22", /guest address 192\.168\.0\.1 is outside net=10\.0\.2\.0\/24/],
    ["user,hostfwd=tcp:localhost:22-:22", /host address "localhost" is not an IPv4 address/],
  ];
  for (const [spec, message] of bad) {
    assert.throws(() => parseUserNetSpec(spec), (e: Error) => {
      assert.ok(e instanceof UserNetOptionError, spec);
      assert.match(e.message, message, spec);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  }
});
