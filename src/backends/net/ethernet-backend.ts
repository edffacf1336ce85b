/**
 * The host side of a virtual NIC: something that carries Ethernet frames
 * (without FCS) — a switch port, a NAT, a tap device, a test harness.
 *
 * Frames passed either way are only valid during the call (the device hands
 * out views of guest RAM and of reused buffers): keep a copy, not the view.
 *
 * Offloads (offload.ts) are optional on both sides. A frame may come with a
 * NetOffload (a partial checksum, a TCP super-frame of up to 64 KiB) only
 * if its receiver said it takes those offloads: `sendOffloads` for what
 * `send` takes, `acceptOffloads()` for what the receiver registered with
 * `onReceive` takes. A backend that knows neither only ever sees, and only
 * ever produces, plain frames.
 */
import type { NetOffload } from "./offload.ts";

/** Receives frames; `offload`, when given, describes the frame (valid during the call). */
export type FrameReceiver = (frame: Uint8Array, offload?: NetOffload) => void;

export interface EthernetBackend {
  /** A frame the guest transmitted; `offload` only if `sendOffloads` allows it. */
  send(frame: Uint8Array, offload?: NetOffload): void;
  /** Registers the one receiver of frames for the guest. */
  onReceive(receiver: FrameReceiver): void;
  /** The OFFLOAD_* bits `send` takes (absent: none; the sender finishes checksums and segments first). */
  readonly sendOffloads?: number;
  /** The receiver registered with `onReceive` takes these OFFLOAD_* bits from now on (0 until told). */
  acceptOffloads?(mask: number): void;
  /** Resolves once the host side is set up (listening sockets bound); rejects with a one-line reason. */
  ready?(): Promise<void>;
  /**
   * A station (by MAC) has left the link — its switch port closed: drop
   * what was kept for it (a NAT frees its DHCP lease).
   */
  forgetStation?(mac: Uint8Array): void;
  /** Releases host resources (sockets, timers) when the VM is done with the NIC. */
  close?(): void;
}
