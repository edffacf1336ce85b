/**
 * Networks: each one is a learning switch the daemon owns, listening on
 * <data-dir>/run/net-<name>.sock, so every VM on it (each in its own worker
 * thread) joins the same segment and the VMs reach each other. The
 * network's user-mode NAT — its subnet, DHCP, port forwards, and the
 * `restrict=on` of a network without NAT — is the switch's one uplink,
 * shared by all its VMs. Every NAT, a network's uplink or a VM's private
 * `{user: ...}` NIC, is kept off the daemon's TCP API port (hostdeny=)
 * unless its network says allowApi; so switches open only once that port
 * is known (openAll, from the daemon's start).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseUserNetSpec, UserNetOptionError } from "../backends/net/user/options.ts";
import { openSwitch, type VirtualSwitch } from "../backends/net/virtual-switch.ts";
import type { NicConfig } from "../vmm/config.ts";
import { conflict, invalid, notFound } from "./errors.ts";
import type { EventBus } from "./events.ts";
import type { JsonCollection } from "./store/json-collection.ts";
import type { Nic, NetworkRecord, NetworkView } from "./model.ts";

const DEFAULT_SUBNET = "10.0.2.0/24";

export class Networks {
  private readonly switches = new Map<string, VirtualSwitch>();

  constructor(
    private readonly store: JsonCollection<NetworkRecord>,
    /** Where the switches' sockets live (<data-dir>/run). */
    private readonly runDir: string,
    private readonly usersOf: (network: string) => string[],
    private readonly events: EventBus,
    /** The daemon's TCP API port, when it listens on TCP. */
    private readonly apiPort: () => number | null,
  ) {}

  /** Opens the switch of every stored network (a socket left by a killed daemon is replaced). Failures are returned, not thrown. */
  async openAll(): Promise<{ network: string; error: string }[]> {
    const failures: { network: string; error: string }[] = [];
    for (const record of this.store.values()) {
      if (this.switches.has(record.name)) continue;
      try {
        this.switches.set(record.name, await this.openSwitchOf(record));
      } catch (e) {
        failures.push({ network: record.name, error: (e as Error).message });
      }
    }
    return failures;
  }

  /** Closes every switch and removes its socket (after the VMs stopped). */
  async closeAll(): Promise<void> {
    const open = [...this.switches.values()];
    this.switches.clear();
    await Promise.all(open.map((sw) => sw.close()));
  }

  list(): NetworkView[] {
    return this.store.values().map((n) => this.view(n));
  }

  get(name: string): NetworkView {
    return this.view(this.record(name));
  }

  async create(spec: NetworkRecord): Promise<NetworkView> {
    if (this.store.has(spec.name)) throw conflict(`network ${spec.name} exists already`);
    const record: NetworkRecord = { ...spec, subnet: spec.subnet ?? DEFAULT_SUBNET, forwards: spec.forwards ?? [], allowApi: spec.allowApi ?? false, createdAt: new Date().toISOString() };
    try {
      parseUserNetSpec(this.specOf(record));
    } catch (e) {
      if (e instanceof UserNetOptionError) throw invalid(`network ${spec.name}: ${e.message.replace(/^--net user: /, "")}`);
      throw e;
    }
    let sw: VirtualSwitch;
    try {
      sw = await this.openSwitchOf(record);
    } catch (e) {
      // A forward's host port taken, say: the network is refused, not half made.
      throw conflict(`network ${spec.name}: ${(e as Error).message}`);
    }
    try {
      await this.store.put(record.name, record);
    } catch (e) {
      await sw.close();
      throw e;
    }
    this.switches.set(record.name, sw);
    this.events.publish({ type: "network.created", name: record.name });
    return this.view(record);
  }

  async delete(name: string): Promise<void> {
    this.record(name);
    const users = this.usersOf(name);
    if (users.length > 0) throw conflict(`network ${name} is used by VM ${users.join(", ")}`);
    await this.store.delete(name);
    const sw = this.switches.get(name);
    this.switches.delete(name);
    await sw?.close();
    this.events.publish({ type: "network.deleted", name });
  }

  /** Checks a NIC of a VM create/update body (400 / 404 before anything is stored). */
  check(nic: Nic): void {
    if ("network" in nic) {
      this.record(nic.network);
      return;
    }
    try {
      parseUserNetSpec(nic.user === "" ? "user" : `user,${nic.user}`);
    } catch (e) {
      if (e instanceof UserNetOptionError) throw invalid(`nics: ${e.message.replace(/^--net user: /, "")}`);
      throw e;
    }
  }

  /** What a VM's NIC runs as: a port of its network's switch, or a private NAT. */
  nicConfig(nic: Nic): NicConfig {
    if ("network" in nic) return { backend: "switch", path: this.socketOf(this.record(nic.network).name) };
    return { backend: "user", options: this.withDeny(nic.user, false) };
  }

  /** The switch of a network (its ports, its NAT uplink), or not_found when it is not open. */
  switchOf(name: string): VirtualSwitch {
    this.record(name);
    const sw = this.switches.get(name);
    if (sw === undefined) throw notFound(`switch of network ${name} (not open)`);
    return sw;
  }

  /** The `--net user,...` spec of a network's NAT uplink. */
  uplinkSpec(name: string): string {
    return this.specOf(this.record(name));
  }

  private specOf(n: NetworkRecord): string {
    const parts = [`net=${n.subnet ?? DEFAULT_SUBNET}`];
    if (!n.nat) parts.push("restrict=on");
    for (const f of n.forwards ?? []) parts.push(`hostfwd=${f.proto}:${f.hostAddress ?? ""}:${f.hostPort}-:${f.guestPort}`);
    return `user,${this.withDeny(parts.join(","), n.allowApi === true)}`;
  }

  private async openSwitchOf(record: NetworkRecord): Promise<VirtualSwitch> {
    mkdirSync(this.runDir, { recursive: true, mode: 0o700 });
    return openSwitch({ path: this.socketOf(record.name), uplink: this.specOf(record) });
  }

  private socketOf(name: string): string {
    return join(this.runDir, `net-${name}.sock`);
  }

  private withDeny(options: string, allowApi: boolean): string {
    const port = this.apiPort();
    if (port === null || allowApi) return options;
    return options === "" ? `hostdeny=${port}` : `${options},hostdeny=${port}`;
  }

  private record(name: string): NetworkRecord {
    const n = this.store.get(name);
    if (n === undefined) throw notFound(`network ${name}`);
    return n;
  }

  private view(n: NetworkRecord): NetworkView {
    const sw = this.switches.get(n.name);
    return {
      name: n.name,
      nat: n.nat,
      subnet: n.subnet ?? DEFAULT_SUBNET,
      forwards: n.forwards ?? [],
      allowApi: n.allowApi === true,
      usedBy: this.usersOf(n.name),
      socket: this.socketOf(n.name),
      switchOpen: sw !== undefined,
      ports: sw?.ports().filter((p) => p.kind === "socket").length ?? 0,
    };
  }
}
