/**
 * A learning Ethernet switch in one process: VMs' NICs plug into its ports
 * (`addPort()` gives an EthernetBackend for a VirtioNet), and any other
 * backend — the user-mode NAT, say — joins with `attach()`, so all the VMs
 * share its one way out. Frames go to the port their destination MAC was
 * last seen on; broadcasts, multicasts and unknown destinations go to every
 * other port. The MAC table is bounded, and its entries age out.
 *
 * Offloads (offload.ts) pass through to a port whose station takes them —
 * two guests that negotiated TSO exchange 64 KiB super-frames with partial
 * checksums, as on a Linux bridge — and are done here, natively, for a
 * port that does not (a socket peer, a guest without offloads).
 */
import type { EthernetBackend, FrameReceiver } from "./ethernet-backend.ts";
import { NetOffload, OFFLOAD_ALL, acceptsAsIs } from "./offload.ts";
import { PlainFrames } from "./plain-frames.ts";

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
  /** The switch makes frames plain for whoever needs them, so a station may send any offload. */
  readonly sendOffloads = OFFLOAD_ALL;
  /** What the station takes (OFFLOAD_* bits). */
  offloads = 0;
  private receiver: FrameReceiver | null = null;

  constructor(
    private readonly sw: EthernetSwitch,
    /** Unique on its switch. */
    readonly id: number,
    /** What is plugged in, for people: "vm1", "socket 3", "uplink user". */
    readonly name: string,
  ) {}

  send(frame: Uint8Array, offload?: NetOffload): void {
    this.stats.framesIn++;
    this.sw.forward(this, frame, offload);
  }

  onReceive(receiver: FrameReceiver): void {
    this.receiver = receiver;
  }

  acceptOffloads(mask: number): void {
    this.offloads = mask;
  }

  /** Unplugs the port. */
  close(): void {
    this.sw.removePort(this);
  }

  /** A frame from the switch for whatever is plugged in here (one the station takes as it is). */
  deliver(frame: Uint8Array, offload?: NetOffload): void {
    this.stats.framesOut++;
    this.receiver?.(frame, offload);
  }
}

export class EthernetSwitch {
  readonly stats = { forwarded: 0, flooded: 0, dropped: 0 };
  private readonly ports: SwitchPort[] = [];
  private readonly table = new Map<string, { port: SwitchPort; seen: number }>();
  private readonly attached = new Map<SwitchPort, EthernetBackend>();
  private nextId = 1;
  private readonly plain = new PlainFrames();

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
    port.onReceive((frame, offload) => backend.send(frame, offload));
    port.acceptOffloads(backend.sendOffloads ?? 0);
    backend.onReceive((frame, offload) => port.send(frame, offload));
    backend.acceptOffloads?.(OFFLOAD_ALL);
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

  forward(from: SwitchPort, frame: Uint8Array, offload?: NetOffload): void {
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
          this.deliverTo(entry.port, frame, offload);
        }
        return;
      }
    }
    // Flood. A copy, because a receiver may answer at once and reuse the buffer `frame` (and `offload`) live in.
    this.stats.flooded++;
    const copy = frame.slice();
    const o = offload === undefined || offload.plain ? undefined : new NetOffload().copyFrom(offload);
    for (const port of this.ports.slice()) if (port !== from) this.deliverTo(port, copy, o);
  }

  /** Hands `port` the frame as it is if its station takes the offloads, else the plain frames it stands for. */
  private deliverTo(port: SwitchPort, frame: Uint8Array, offload: NetOffload | undefined): void {
    if (offload === undefined || offload.plain) port.deliver(frame);
    else if (acceptsAsIs(offload, port.offloads)) port.deliver(frame, offload);
    else if (this.plain.convert(frame, offload, (f) => port.deliver(f)) !== "ok") this.stats.dropped++;
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
