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

export class SwitchPort implements EthernetBackend {
  private receiver: ((frame: Uint8Array) => void) | null = null;

  constructor(private readonly sw: EthernetSwitch) {}

  send(frame: Uint8Array): void {
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
    this.receiver?.(frame);
  }
}

export class EthernetSwitch {
  readonly stats = { forwarded: 0, flooded: 0, dropped: 0 };
  private readonly ports: SwitchPort[] = [];
  private readonly table = new Map<string, { port: SwitchPort; seen: number }>();
  private readonly attached = new Map<SwitchPort, EthernetBackend>();

  /** A new port for a NIC. */
  addPort(): SwitchPort {
    const port = new SwitchPort(this);
    this.ports.push(port);
    return port;
  }

  /** Joins a backend (e.g. a UserNetBackend uplink) as a port of its own. */
  attach(backend: EthernetBackend): SwitchPort {
    const port = this.addPort();
    port.onReceive((frame) => backend.send(frame));
    backend.onReceive((frame) => this.forward(port, frame));
    this.attached.set(port, backend);
    return port;
  }

  removePort(port: SwitchPort): void {
    const i = this.ports.indexOf(port);
    if (i >= 0) this.ports.splice(i, 1);
    for (const [mac, entry] of this.table) if (entry.port === port) this.table.delete(mac);
    this.attached.delete(port);
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

function macKey(frame: Uint8Array, at: number): string {
  return String.fromCharCode(frame[at], frame[at + 1], frame[at + 2], frame[at + 3], frame[at + 4], frame[at + 5]);
}
