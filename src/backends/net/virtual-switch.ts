/**
 * The switch as the library offers it (and as `typevisor switch` and the
 * daemon run it): one learning switch, optionally listening on a Unix
 * socket for other processes' NICs, optionally with a user-mode NAT uplink
 * that all its VMs share.
 *
 *   const sw = await openSwitch({ path: "/tmp/sw0", uplink: "user,hostfwd=tcp::2222-10.0.2.15:22" });
 *   // a Vm (worker thread or another process) joins with nics: [{ backend: "switch", path: sw.path }]
 *   const port = sw.attach(someBackend, "tap");   // a backend in this thread
 *   sw.ports();                                   // names, MACs, frame counts
 *   port.close();                                  // detach
 *   await sw.close();
 */
import type { EthernetBackend } from "./ethernet-backend.ts";
import { EthernetSwitch, type SwitchPort } from "./switch.ts";
import { SwitchSocketServer } from "./switch-socket.ts";
import { isUserNetSpec, openUserNet, type UserNetBackend } from "./user/index.ts";

export interface SwitchOptions {
  /** A Unix socket path other processes join through (`--net switch=PATH`). */
  path?: string;
  /** A user-mode NAT uplink: "user" or "user,OPTIONS" as `--net user,...`. */
  uplink?: string;
}

export interface SwitchPortInfo {
  id: number;
  name: string;
  kind: "socket" | "local" | "uplink";
  /** Station MACs last seen on the port. */
  macs: string[];
  framesIn: number;
  framesOut: number;
  /** Frames dropped on the way out of a socket port (its queue was full). */
  dropped: number;
}

export class VirtualSwitch {
  readonly ethernet = new EthernetSwitch();
  private server: SwitchSocketServer | null = null;
  private uplinkPort: SwitchPort | null = null;
  private uplink: UserNetBackend | null = null;

  /** The socket path, or null for a switch only this process can use. */
  get path(): string | null {
    return this.server?.path ?? null;
  }

  /** The NAT uplink, if any (its stats, bound forwards). */
  get nat(): UserNetBackend | null {
    return this.uplink;
  }

  /** A port for a NIC in this thread: hand it to a VirtioNet as its backend. */
  addPort(name?: string): SwitchPort {
    return this.ethernet.addPort(name);
  }

  /** Plugs a backend in this thread into a port of its own. */
  attach(backend: EthernetBackend, name?: string): SwitchPort {
    return this.ethernet.attach(backend, name);
  }

  /** Opens a user-mode NAT from its spec and plugs it in as the uplink (one per switch). */
  async attachUplink(spec: string): Promise<SwitchPort> {
    if (this.uplink !== null) throw new Error("this switch has an uplink already");
    if (!isUserNetSpec(spec)) throw new Error(`uplink ${spec}: expected user[,option=value...]`);
    this.uplink = await openUserNet(spec);
    this.uplinkPort = this.ethernet.attach(this.uplink, `uplink ${spec}`);
    return this.uplinkPort;
  }

  /** Every port plugged in now, with its counters. */
  ports(): SwitchPortInfo[] {
    return this.ethernet.portList().map((port) => {
      const link = this.server?.linkOf(port);
      return {
        id: port.id,
        name: port.name,
        kind: link !== undefined ? "socket" : port === this.uplinkPort ? "uplink" : "local",
        macs: this.ethernet.macsOn(port),
        framesIn: port.stats.framesIn,
        framesOut: port.stats.framesOut,
        dropped: link?.stats.dropped ?? 0,
      };
    });
  }

  /** Disconnects every peer, removes the socket and closes the uplink. */
  async close(): Promise<void> {
    await this.server?.close();
    this.server = null;
    this.ethernet.close();
    this.uplink = null;
  }

  /** @internal openSwitch's */
  async listen(path: string): Promise<void> {
    this.server = await SwitchSocketServer.listen(this.ethernet, path);
  }
}

/** A switch, listening on `path` and with the uplink when asked; rejects with one line. */
export async function openSwitch(options: SwitchOptions = {}): Promise<VirtualSwitch> {
  const sw = new VirtualSwitch();
  try {
    if (options.uplink !== undefined) await sw.attachUplink(options.uplink);
    if (options.path !== undefined) await sw.listen(options.path);
  } catch (e) {
    await sw.close();
    throw e;
  }
  return sw;
}
