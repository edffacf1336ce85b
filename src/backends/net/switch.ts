/**
 * A learning Ethernet switch in one process: VMs' NICs plug into its ports
 * (`addPort()` gives an EthernetBackend for a VirtioNet), and any other
 * backend — the user-mode NAT, say — joins with `attach()`, so all the VMs
 * share its one way out. Frames go to the port their destination MAC was
 * last seen on; broadcasts, multicasts and unknown destinations go to every
 * other port. The MAC table is bounded, and its entries age out.
 */
import type { EthernetBackend } from "./ethernet-backend.ts";

export const MAX_MAC_ENTRIES = 4096;
export const MAC_AGING_MS = 300_000;

/** Frames counted at a port, from the switch's side. */
export interface PortStats {
  /** Frames the station sent into the switch. */
  framesIn: number;
  /** Frames the switch delivered to the station. */
  framesOut: number;
}

export class SwitchPort implements EthernetBackend {
  readonly stats: PortStats = { framesIn: 0, framesOut: 0 };
  private receiver: ((frame: Uint8Array) => void) | null = null;

  constructor(
    private readonly sw: EthernetSwitch,
    /** Unique on its switch. */
    readonly id: number,
    /** What is plugged in, for people: "vm1", "socket 3", "uplink user". */
    readonly name: string,
  ) {}

  send(frame: Uint8Array): void {
    this.stats.framesIn++;
    this.sw.forward(this, frame);
  }

  onReceive(receiver: (frame: Uint8Array) => void): void {
    this.receiver = receiver;
  }

  /** Unplugs the port. */
  close(): void {
    this.sw.removePort(this);
  }

  /** A frame from the switch for whatever is plugged in here. */
  deliver(frame: Uint8Array): void {
    this.stats.framesOut++;
    this.receiver?.(frame);
  }
}

export class EthernetSwitch {
  readonly stats = { forwarded: 0, flooded: 0, dropped: 0 };
  private readonly ports: SwitchPort[] = [];
  private readonly table = new Map<string, { port: SwitchPort; seen: number }>();
  private readonly attached = new Map<SwitchPort, EthernetBackend>();
  private nextId = 1;

  /** A new port for a NIC. */
  addPort(name?: string): SwitchPort {
    const id = this.nextId++;
    const port = new SwitchPort(this, id, name ?? `port ${id}`);
    this.ports.push(port);
    return port;
  }

  /** The ports plugged in now, oldest first. */
  portList(): readonly SwitchPort[] {
    return this.ports;
  }

  /** The MACs last seen on `port` ("52:54:00:12:34:56"). */
  macsOn(port: SwitchPort): string[] {
    const out: string[] = [];
    for (const [mac, entry] of this.table) if (entry.port === port) out.push(macText(mac));
    return out;
  }

  /** Joins a backend (e.g. a UserNetBackend uplink) as a port of its own. */
  attach(backend: EthernetBackend, name?: string): SwitchPort {
    const port = this.addPort(name);
    port.onReceive((frame) => backend.send(frame));
    backend.onReceive((frame) => port.send(frame));
    this.attached.set(port, backend);
    return port;
  }

  /**
   * Unplugs a port. The stations seen on it have left the link: the other
   * attached backends are told (forgetStation), so a NAT uplink frees their
   * DHCP leases for the next VM.
   */
  removePort(port: SwitchPort): void {
    const i = this.ports.indexOf(port);
    if (i < 0) return;
    this.ports.splice(i, 1);
    const gone: Uint8Array[] = [];
    for (const [mac, entry] of this.table) {
      if (entry.port !== port) continue;
      this.table.delete(mac);
      gone.push(Uint8Array.from(mac, (c) => c.charCodeAt(0)));
    }
    this.attached.delete(port);
    for (const backend of this.attached.values()) for (const mac of gone) backend.forgetStation?.(mac);
  }

  /** Closes every attached backend. */
  close(): void {
    for (const backend of this.attached.values()) backend.close?.();
    this.attached.clear();
  }

  forward(from: SwitchPort, frame: Uint8Array): void {
    if (frame.length < 14) {
      this.stats.dropped++;
      return;
    }
    const now = performance.now();
    if ((frame[6] & 1) === 0) this.learn(macKey(frame, 6), from, now);
    if ((frame[0] & 1) === 0) {
      const entry = this.table.get(macKey(frame, 0));
      if (entry !== undefined && now - entry.seen < MAC_AGING_MS) {
        if (entry.port !== from) {
          this.stats.forwarded++;
          entry.port.deliver(frame);
        }
        return;
      }
    }
    // Flood. A copy, because a receiver may answer at once and reuse the buffer `frame` lives in.
    this.stats.flooded++;
    const copy = frame.slice();
    for (const port of this.ports.slice()) if (port !== from) port.deliver(copy);
  }

  private learn(mac: string, port: SwitchPort, now: number): void {
    const entry = this.table.get(mac);
    if (entry !== undefined) {
      entry.port = port;
      entry.seen = now;
      return;
    }
    if (this.table.size >= MAX_MAC_ENTRIES) this.table.delete(this.table.keys().next().value as string);
    this.table.set(mac, { port, seen: now });
  }
}

function macText(key: string): string {
  return Array.from(key, (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join(":");
}

function macKey(frame: Uint8Array, at: number): string {
  return String.fromCharCode(frame[at], frame[at + 1], frame[at + 2], frame[at + 3], frame[at + 4], frame[at + 5]);
}
