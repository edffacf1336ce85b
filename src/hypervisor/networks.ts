/**
 * Networks: named user-mode NAT configurations that VM NICs attach to by
 * name. Until the cross-process switch (issue 11) lands, each NIC on a
 * network gets its own NAT with the network's subnet and forwards (so a
 * forward's host port serves one running VM at a time). Every user-mode
 * NIC is kept off the daemon's TCP API port (hostdeny=) unless its network
 * says allowApi.
 */
import { parseUserNetSpec, UserNetOptionError } from "../backends/net/user/options.ts";
import { conflict, invalid, notFound } from "./errors.ts";
import type { EventBus } from "./events.ts";
import type { JsonCollection } from "./store/json-collection.ts";
import type { Nic, NetworkRecord, NetworkView } from "./model.ts";

const DEFAULT_SUBNET = "10.0.2.0/24";

export class Networks {
  constructor(
    private readonly store: JsonCollection<NetworkRecord>,
    private readonly usersOf: (network: string) => string[],
    private readonly events: EventBus,
    /** The daemon's TCP API port, when it listens on TCP. */
    private readonly apiPort: () => number | null,
  ) {}

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
      parseUserNetSpec(`user,${this.optionsOf(record)}`);
    } catch (e) {
      if (e instanceof UserNetOptionError) throw invalid(`network ${spec.name}: ${e.message.replace(/^--net user: /, "")}`);
      throw e;
    }
    await this.store.put(record.name, record);
    this.events.publish({ type: "network.created", name: record.name });
    return this.view(record);
  }

  async delete(name: string): Promise<void> {
    this.record(name);
    const users = this.usersOf(name);
    if (users.length > 0) throw conflict(`network ${name} is used by VM ${users.join(", ")}`);
    await this.store.delete(name);
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

  /** The -netdev user options a NIC runs with (without the leading "user,"). */
  userOptions(nic: Nic): string {
    if ("network" in nic) return this.optionsOf(this.record(nic.network));
    return this.withDeny(nic.user, false);
  }

  private optionsOf(n: NetworkRecord): string {
    const parts = [`net=${n.subnet ?? DEFAULT_SUBNET}`];
    if (!n.nat) parts.push("restrict=on");
    for (const f of n.forwards ?? []) parts.push(`hostfwd=${f.proto}:${f.hostAddress ?? ""}:${f.hostPort}-:${f.guestPort}`);
    return this.withDeny(parts.join(","), n.allowApi === true);
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
    return { name: n.name, nat: n.nat, subnet: n.subnet ?? DEFAULT_SUBNET, forwards: n.forwards ?? [], allowApi: n.allowApi === true, usedBy: this.usersOf(n.name) };
  }
}
