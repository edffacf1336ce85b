/**
 * The host side of a virtual NIC: something that carries Ethernet frames
 * (without FCS) — a switch port, a NAT, a tap device, a test harness.
 *
 * Frames passed either way are only valid during the call (the device hands
 * out views of guest RAM and of reused buffers): keep a copy, not the view.
 */
export interface EthernetBackend {
  /** A frame the guest transmitted. */
  send(frame: Uint8Array): void;
  /** Registers the one receiver of frames for the guest. */
  onReceive(receiver: (frame: Uint8Array) => void): void;
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
