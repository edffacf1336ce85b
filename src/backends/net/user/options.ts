/**
 * `--net user,OPTION=VALUE,...`: the options of QEMU's `-netdev user`
 * (net=, host=, dns=, dhcpstart=, restrict=, hostname=, hostfwd=, ipv6=,
 * ipv6-net=, ipv6-host=, ipv6-dns=) parsed into a UserNetConfig. Defaults
 * and derivations follow QEMU: net= 10.0.2.0/24, and host, dns and
 * dhcpstart are .2, .3 and .15 of the net; ipv6-net= fec0::/64, and
 * ipv6-host and ipv6-dns are ::2 and ::3 of it. One option is ours, not
 * QEMU's: hostdeny=PORT (the hypervisor daemon keeps guests off its API port).
 */
import { formatIpv4, parseIpv4, prefixMask, type Ipv4 } from "./addresses.ts";
import { canonicalIpv6, formatIpv6, inIpv6Prefix, ipv6Bytes, ipv6Network, type Ipv6 } from "./ipv6-address.ts";

export interface HostForward {
  protocol: "tcp" | "udp";
  /** Host address to bind (default 127.0.0.1, as the issue asks; QEMU binds all). */
  hostAddress: string;
  /** Host port; 0 binds a free port (see UserNetBackend.forwards). */
  hostPort: number;
  /** Guest address; null means the first DHCP address (dhcpstart). */
  guestAddress: Ipv4 | null;
  guestPort: number;
}

export interface UserNetConfig {
  network: Ipv4;
  prefix: number;
  /** The gateway, which also stands for the host's loopback. */
  host: Ipv4;
  dns: Ipv4;
  dhcpStart: Ipv4;
  /** restrict=on: the guest reaches nothing outside (only DHCP, ARP, ping of the gateway and forwards). */
  restrict: boolean;
  /** Offered to the guest by DHCP (option 12) when set. */
  hostname: string | null;
  hostForwards: HostForward[];
  /** hostdeny=PORT: guest TCP connections to the host itself (the gateway, or any host address) on these ports get a RST. */
  hostDenyPorts: number[];
  /** ipv6=on (the default): router advertisements, NDP, ICMPv6 echo, DNS, TCP and UDP over IPv6. */
  ipv6: boolean;
  /** The advertised prefix (SLAAC needs a /64). */
  ipv6Prefix: Ipv6;
  ipv6PrefixLength: number;
  /** The gateway's IPv6 address, which also stands for the host's ::1. */
  ipv6Host: Ipv6;
  ipv6Dns: Ipv6;
}

/** A bad `--net user` option; the message is one line for the user. */
export class UserNetOptionError extends Error {}

export function defaultUserNetConfig(): UserNetConfig {
  return derive(parseIpv4("10.0.2.0") as Ipv4, 24, {});
}

/** Parses "user[,opt=value...]"; throws UserNetOptionError with a one-line reason. */
export function parseUserNetSpec(spec: string): UserNetConfig {
  const [kind, ...items] = spec.split(",");
  if (kind !== "user") throw new UserNetOptionError(`--net ${spec}: expected user[,option=value...]`);
  let network = parseIpv4("10.0.2.0") as Ipv4;
  let prefix = 24;
  const given: Partial<Record<"host" | "dns" | "dhcpstart", Ipv4>> = {};
  let restrict = false;
  let hostname: string | null = null;
  const forwards: string[] = [];
  const denied: number[] = [];
  const v6: V6Given = {};
  for (const item of items) {
    const eq = item.indexOf("=");
    if (eq < 0) throw new UserNetOptionError(`--net user: "${item}" is not option=value`);
    const name = item.slice(0, eq);
    const value = item.slice(eq + 1);
    switch (name) {
      case "net": {
        const [addr, bits] = value.split("/");
        const ip = parseIpv4(addr);
        const p = bits === undefined ? 24 : /^\d+$/.test(bits) ? Number(bits) : parseIpv4(bits) === null ? NaN : maskBits(parseIpv4(bits) as Ipv4);
        if (ip === null || !(p >= 1 && p <= 30)) throw new UserNetOptionError(`--net user: net=${value}: expected ADDRESS[/PREFIX] such as 10.0.2.0/24`);
        prefix = p;
        network = (ip & prefixMask(p)) >>> 0;
        break;
      }
      case "host":
      case "dns":
      case "dhcpstart": {
        const ip = parseIpv4(value);
        if (ip === null) throw new UserNetOptionError(`--net user: ${name}=${value}: expected an IPv4 address`);
        given[name] = ip;
        break;
      }
      case "restrict":
        if (!/^(on|off|yes|no|y|n)$/.test(value)) throw new UserNetOptionError(`--net user: restrict=${value}: expected on or off`);
        restrict = value === "on" || value === "yes" || value === "y";
        break;
      case "hostname":
        if (!/^[A-Za-z0-9.-]{1,63}$/.test(value)) throw new UserNetOptionError(`--net user: hostname=${value}: expected letters, digits, dots and dashes (at most 63)`);
        hostname = value;
        break;
      case "hostfwd":
        forwards.push(value);
        break;
      case "hostdeny":
        if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) throw new UserNetOptionError(`--net user: hostdeny=${value}: expected a TCP port (1-65535)`);
        denied.push(Number(value));
        break;
      case "ipv6":
        if (!/^(on|off|yes|no|y|n)$/.test(value)) throw new UserNetOptionError(`--net user: ipv6=${value}: expected on or off`);
        v6.enabled = value === "on" || value === "yes" || value === "y";
        break;
      case "ipv6-net": {
        const [addr, bits] = value.split("/");
        const ip = canonicalIpv6(addr);
        const p = bits === undefined ? 64 : /^\d+$/.test(bits) ? Number(bits) : NaN;
        if (ip === null || !(p >= 1 && p <= 126)) throw new UserNetOptionError(`--net user: ipv6-net=${value}: expected ADDRESS[/PREFIX] such as fec0::/64`);
        v6.prefix = ipv6Network(ip, p);
        v6.prefixLength = p;
        break;
      }
      case "ipv6-host":
      case "ipv6-dns": {
        const ip = canonicalIpv6(value);
        if (ip === null) throw new UserNetOptionError(`--net user: ${name}=${value}: expected an IPv6 address`);
        v6[name === "ipv6-host" ? "host" : "dns"] = ip;
        break;
      }
      default:
        throw new UserNetOptionError(`--net user: unknown option "${name}" (known: net, host, dns, dhcpstart, restrict, hostname, hostfwd, hostdeny, ipv6, ipv6-net, ipv6-host, ipv6-dns)`);
    }
  }
  const config = derive(network, prefix, given);
  Object.assign(config, deriveIpv6(v6));
  config.restrict = restrict;
  config.hostname = hostname;
  config.hostForwards = forwards.map((f) => parseHostForward(f, config));
  config.hostDenyPorts = denied;
  return config;
}

function maskBits(mask: Ipv4): number {
  for (let bits = 0; bits <= 32; bits++) if (prefixMask(bits) === mask) return bits;
  return NaN;
}

function derive(network: Ipv4, prefix: number, given: Partial<Record<"host" | "dns" | "dhcpstart", Ipv4>>): UserNetConfig {
  const mask = prefixMask(prefix);
  const at = (n: number) => (network | (n & ~mask)) >>> 0;
  const config: UserNetConfig = {
    network,
    prefix,
    host: given.host ?? at(2),
    dns: given.dns ?? at(3),
    dhcpStart: given.dhcpstart ?? at(15),
    restrict: false,
    hostname: null,
    hostForwards: [],
    hostDenyPorts: [],
    ...deriveIpv6({}),
  };
  const broadcast = (network | ~mask) >>> 0;
  for (const name of ["host", "dns", "dhcpStart"] as const) {
    const ip = config[name];
    if (((ip & mask) >>> 0) !== network || ip === network || ip === broadcast) {
      throw new UserNetOptionError(`--net user: ${name.toLowerCase()}=${formatIpv4(ip)} is not a host address in net=${formatIpv4(network)}/${prefix}`);
    }
  }
  if (config.host === config.dns) throw new UserNetOptionError(`--net user: host and dns must differ (both ${formatIpv4(config.host)})`);
  if (config.dhcpStart === config.host || config.dhcpStart === config.dns) {
    throw new UserNetOptionError(`--net user: dhcpstart=${formatIpv4(config.dhcpStart)} collides with the host or dns address`);
  }
  return config;
}

interface V6Given {
  enabled?: boolean;
  prefix?: Ipv6;
  prefixLength?: number;
  host?: Ipv6;
  dns?: Ipv6;
}

type Ipv6Config = Pick<UserNetConfig, "ipv6" | "ipv6Prefix" | "ipv6PrefixLength" | "ipv6Host" | "ipv6Dns">;

function deriveIpv6(given: V6Given): Ipv6Config {
  const prefix = given.prefix ?? "fec0::";
  const prefixLength = given.prefixLength ?? 64;
  const at = (n: number) => {
    const b = ipv6Bytes(prefix).slice();
    b[15] |= n;
    return formatIpv6(b);
  };
  const config: Ipv6Config = {
    ipv6: given.enabled ?? true,
    ipv6Prefix: prefix,
    ipv6PrefixLength: prefixLength,
    ipv6Host: given.host ?? at(2),
    ipv6Dns: given.dns ?? at(3),
  };
  for (const [name, ip] of [["ipv6-host", config.ipv6Host], ["ipv6-dns", config.ipv6Dns]] as const) {
    if (!inIpv6Prefix(ip, prefix, prefixLength) || ip === prefix) {
      throw new UserNetOptionError(`--net user: ${name}=${ip} is not a host address in ipv6-net=${prefix}/${prefixLength}`);
    }
  }
  if (config.ipv6Host === config.ipv6Dns) throw new UserNetOptionError(`--net user: ipv6-host and ipv6-dns must differ (both ${config.ipv6Host})`);
  return config;
}

/** "[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport", as QEMU's hostfwd=. */
export function parseHostForward(text: string, config: UserNetConfig): HostForward {
  const m = /^(tcp|udp)?:([^:]*):(\d+)-([^:]*):(\d+)$/.exec(text);
  const bad = (why: string) => new UserNetOptionError(`--net user: hostfwd=${text}: ${why}`);
  if (!m) throw bad("expected [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, e.g. tcp::2222-:22");
  const hostPort = Number(m[3]);
  const guestPort = Number(m[5]);
  if (hostPort > 65535) throw bad(`host port ${m[3]} is not 0-65535`);
  if (guestPort < 1 || guestPort > 65535) throw bad(`guest port ${m[5]} is not 1-65535`);
  if (m[2] !== "" && parseIpv4(m[2]) === null) throw bad(`host address "${m[2]}" is not an IPv4 address`);
  let guestAddress: Ipv4 | null = null;
  if (m[4] !== "") {
    guestAddress = parseIpv4(m[4]);
    if (guestAddress === null) throw bad(`guest address "${m[4]}" is not an IPv4 address`);
    if (((guestAddress & prefixMask(config.prefix)) >>> 0) !== config.network) throw bad(`guest address ${m[4]} is outside net=${formatIpv4(config.network)}/${config.prefix}`);
  }
  return { protocol: (m[1] ?? "tcp") as "tcp" | "udp", hostAddress: m[2] === "" ? "127.0.0.1" : m[2], hostPort, guestAddress, guestPort };
}
