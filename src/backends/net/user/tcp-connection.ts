/**
 * One TCP connection as the guest sees it, with the gateway playing the far
 * end (RFC 9293): handshake either way (the guest connects out, or a port
 * forward connects in), MSS and window scaling, sliding windows with flow
 * control both ways, retransmission on timeout (RTT-estimated RTO, RFC 6298)
 * and on three duplicate ACKs, zero-window probes, FIN/half-close, RST and
 * TIME-WAIT. The far end's bytes come from and go to a TcpHostSide (a host
 * socket).
 *
 * Back-pressure, so memory stays bounded whatever either side does:
 * - guest → host: the window we advertise is RECEIVE_BUFFER minus what the
 *   host socket has not yet taken, and bytes beyond it are dropped; a
 *   congested host socket therefore closes the guest's window.
 * - host → guest: bytes read from the host wait in `sendQueue` until the
 *   guest acknowledges them; above SEND_BUFFER the host socket is paused.
 */
import { ByteQueue } from "./byte-queue.ts";
import { ACK, FIN, PSH, RST, SYN, TCP_HEADER, seqAdd, seqDiff, writeTcpSegment, type TcpSegment } from "./tcp-segment.ts";
import { ipPayloadOffset, type IpAddress } from "./addresses.ts";
import { OFFLOAD_CSUM, OFFLOAD_TSO4, OFFLOAD_TSO6 } from "../offload.ts";

/** The MSS we announce over IPv4 (a 1500-byte link); 20 less over IPv6's longer header. */
export const OUR_MSS = 1460;
export const RECEIVE_BUFFER = 256 * 1024;
/** Our window-scale shift: RECEIVE_BUFFER >> 3 fits the 16-bit field. */
export const OUR_WINDOW_SCALE = 3;
export const SEND_BUFFER = 256 * 1024;
/** Payload of one super-frame to a guest that takes TCP segmentation offload (rounded down to whole segments; IP lengths stay below 64 KiB). */
const MAX_SUPER_FRAME_PAYLOAD = 65000;
/** Most unacknowledged bytes in flight, whatever the guest's window (its receive ring is finite). */
export const MAX_IN_FLIGHT = 256 * 1024;
const INITIAL_RTO_MS = 1000;
const MIN_RTO_MS = 200;
const MAX_RTO_MS = 30_000;
const MAX_RETRANSMISSIONS = 8;
/** TIME-WAIT length: 2×MSL shortened for a link with no stale duplicates. */
export const TIME_WAIT_MS = 5000;

export type TcpState =
  | "connecting" // the guest's SYN arrived; waiting for the host connect
  | "syn-sent" // a forward: our SYN is out
  | "syn-received" // our SYN-ACK is out
  | "established"
  | "fin-wait-1"
  | "fin-wait-2"
  | "closing"
  | "time-wait"
  | "close-wait"
  | "last-ack"
  | "closed";

/** The host end of the connection (a socket). */
export interface TcpHostSide {
  /** Bytes from the guest; the view is only valid during the call. */
  write(data: Uint8Array): void;
  end(): void;
  destroy(): void;
  pause(): void;
  resume(): void;
  /** Bytes written but not yet taken by the host. */
  readonly queuedBytes: number;
}

/** What a connection needs from the stack around it. */
export interface TcpLink {
  /** Scratch frame buffer: the segment is written at ipPayloadOffset(its address). */
  readonly out: Uint8Array;
  /** The OFFLOAD_* bits the guest's side takes now: with TSO our segments may be up to 64 KiB. */
  offloads(): number;
  /**
   * Sends the segment of `length` bytes at ipPayloadOffset(dst) in `out`,
   * whose checksum holds only the pseudo-header's part (the link finishes
   * it unless the receiver does); `gsoSize` > 0: a super-frame of segments
   * that long.
   */
  sendTcp(src: IpAddress, dst: IpAddress, length: number, gsoSize?: number): void;
  /** The connection is over: forget it. */
  closed(conn: TcpConnection): void;
}

/** Both ends of one IP version. */
export interface TcpEndpoints {
  guestIp: IpAddress;
  guestPort: number;
  /** The far end as the guest sees it. */
  remoteIp: IpAddress;
  remotePort: number;
}

export class TcpConnection {
  state: TcpState;
  host: TcpHostSide | null = null;
  readonly ends: TcpEndpoints;
  /** Where segments start in `link.out` (after the Ethernet and IP headers). */
  private readonly tcpOffset: number;
  private readonly ourMss: number;
  /** Counters for tests and diagnostics. */
  readonly stats = { retransmits: 0, droppedOutOfWindow: 0, droppedOutOfOrder: 0 };

  // Send side (gateway → guest).
  private readonly iss: number;
  private sndUna: number;
  private sndNxt: number;
  /** The guest's window in bytes (already scaled). */
  private sndWnd = 0;
  private sndWndShift = 0;
  private mss = 536;
  /** Bytes from the host, from sndUna on. */
  readonly sendQueue = new ByteQueue();
  /** Bytes of sendQueue already sent once (sequence sndUna + sendOffset = next new byte). */
  private sendOffset = 0;
  private hostEnded = false;
  /** Our FIN is counted in sndNxt (sent, not yet acknowledged). */
  private finInFlight = false;
  private finAcked = false;
  private hostPaused = false;

  // Receive side (guest → gateway).
  private rcvNxt = 0;
  private rcvWndShift = 0;
  /** In-order segments received since our last ACK went out (delayAck). */
  private unackedSegments = 0;
  private ackScheduled = false;
  /** The right edge we last advertised is short of what we could offer: send an update when the host drains. */
  private windowClosed = false;

  // Timers.
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerKind: "rto" | "persist" | "time-wait" | null = null;
  private rto = INITIAL_RTO_MS;
  private srtt = -1;
  private rttvar = 0;
  private retransmissions = 0;
  private dupAcks = 0;
  /** The sequence number being timed (Karn: never a retransmitted one), or -1. */
  private rttSeq = -1;
  private rttStart = 0;

  private constructor(private readonly link: TcpLink, ends: TcpEndpoints, state: TcpState) {
    this.ends = ends;
    this.tcpOffset = ipPayloadOffset(ends.guestIp);
    this.ourMss = OUR_MSS - (this.tcpOffset - ipPayloadOffset(0));
    this.state = state;
    this.iss = (Math.random() * 0x100000000) >>> 0;
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
  }

  /** The guest sent a SYN: a connection waiting for the host side to connect (then call `hostConnected`). */
  static fromGuestSyn(link: TcpLink, ends: TcpEndpoints, syn: TcpSegment): TcpConnection {
    const c = new TcpConnection(link, ends, "connecting");
    c.rcvNxt = seqAdd(syn.seq, 1);
    c.takeSynOptions(syn, syn.windowScale >= 0);
    return c;
  }

  /** A port forward accepted a host connection: send our SYN to the guest. */
  static toGuest(link: TcpLink, ends: TcpEndpoints, host: TcpHostSide): TcpConnection {
    const c = new TcpConnection(link, ends, "syn-sent");
    c.host = host;
    host.pause(); // nothing to do with its bytes until the guest answers
    c.hostPaused = true;
    c.sendSyn();
    return c;
  }

  /** The host connect for a "connecting" connection succeeded: answer the guest's SYN. */
  hostConnected(host: TcpHostSide): void {
    this.host = host;
    if (this.state !== "connecting") return;
    this.state = "syn-received";
    this.sendSyn();
  }

  /** The host connect failed, or the host socket broke: reset the guest's connection. */
  hostFailed(): void {
    this.host = null;
    if (this.state === "closed" || this.state === "time-wait") return;
    if (this.state === "connecting") this.emit(0, this.rcvNxt, RST | ACK, 0);
    else this.emit(this.sndNxt, this.rcvNxt, RST | ACK, 0);
    this.close();
  }

  /** Bytes from the host for the guest. */
  hostData(data: Uint8Array): void {
    if (this.hostEnded || this.state === "closed") return;
    this.sendQueue.push(data);
    if (this.sendQueue.length >= SEND_BUFFER && !this.hostPaused) {
      this.hostPaused = true;
      this.host?.pause();
    }
    this.pump();
  }

  /** The host finished sending: a FIN follows the queued bytes. */
  hostEnd(): void {
    if (this.hostEnded) return;
    this.hostEnded = true;
    this.pump();
  }

  /** The host socket took its queued bytes: reopen the window we closed. */
  hostDrained(): void {
    if (this.windowClosed && this.synchronized()) {
      this.windowClosed = false;
      this.sendAck();
    }
  }

  /** The host socket closed: after an error the guest gets a RST; a clean close needs nothing more from it. */
  hostClosed(hadError: boolean): void {
    const s = this.state;
    const guestDone = s === "close-wait" || s === "last-ack" || s === "closing" || s === "time-wait" || s === "closed";
    if (hadError || !guestDone || !this.hostEnded) this.hostFailed();
    else this.host = null;
  }

  /** Releases timers and the host socket (the backend is closing). */
  abort(): void {
    this.clearTimer();
    this.host?.destroy();
    this.host = null;
    this.state = "closed";
  }

  /** A segment from the guest for this connection. */
  segment(frame: Uint8Array, seg: TcpSegment): void {
    switch (this.state) {
      case "closed":
        return;
      case "connecting":
        if (seg.flags & RST) this.close();
        return; // SYN retransmissions wait for the host connect
      case "syn-sent":
        this.inSynSent(seg);
        return;
      case "time-wait":
        if (seg.flags & RST) this.close();
        else if (seg.flags & FIN) this.sendAck(); // our last ACK was lost
        return;
    }
    if (seg.flags & RST) {
      if (this.inWindow(seg.seq)) {
        this.host?.destroy();
        this.host = null;
        this.close();
      }
      return;
    }
    if (seg.flags & SYN) {
      // A retransmitted SYN while our SYN-ACK is out: send it again; otherwise a challenge ACK.
      if (this.state === "syn-received" && seqAdd(seg.seq, 1) === this.rcvNxt) this.sendSyn();
      else this.sendAck();
      return;
    }
    if (!(seg.flags & ACK)) return;
    if (this.state === "syn-received") {
      if (seg.ack !== seqAdd(this.iss, 1)) {
        this.emit(seg.ack, 0, RST, 0);
        return;
      }
      this.sndUna = seg.ack;
      this.sndNxt = seg.ack;
      this.state = "established";
      this.retransmissions = 0;
      this.sampleRtt(seg.ack);
      this.clearTimer();
      if (this.hostPaused && this.sendQueue.length < SEND_BUFFER) this.resumeHost();
    }
    if (!this.processAck(seg)) return;
    this.processData(frame, seg);
    this.pump();
  }

  private inSynSent(seg: TcpSegment): void {
    const acceptable = (seg.flags & ACK) !== 0 && seg.ack === seqAdd(this.iss, 1);
    if (seg.flags & RST) {
      if (acceptable) {
        this.host?.destroy(); // the guest refused the forwarded connection
        this.host = null;
        this.close();
      }
      return;
    }
    if (!(seg.flags & SYN) || !acceptable) {
      if (seg.flags & ACK && !acceptable) this.emit(seg.ack, 0, RST, 0);
      return;
    }
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.takeSynOptions(seg, seg.windowScale >= 0);
    this.sndUna = seg.ack;
    this.sndNxt = seg.ack;
    this.sndWnd = seg.window; // never scaled on a SYN
    this.state = "established";
    this.sampleRtt(seg.ack);
    this.clearTimer();
    this.retransmissions = 0;
    this.sendAck();
    this.resumeHost();
    this.pump();
  }

  private takeSynOptions(syn: TcpSegment, scaling: boolean): void {
    this.mss = syn.mss > 0 ? Math.min(syn.mss, this.ourMss) : 536;
    this.sndWnd = syn.window;
    this.sndWndShift = scaling ? syn.windowScale : 0;
    this.rcvWndShift = scaling ? OUR_WINDOW_SCALE : 0;
  }

  /** Handles the ACK field; false if the segment must be dropped. */
  private processAck(seg: TcpSegment): boolean {
    const acked = seqDiff(seg.ack, this.sndUna);
    if (seqDiff(seg.ack, this.sndNxt) > 0) {
      this.sendAck(); // acknowledges something we never sent
      return false;
    }
    const window = seg.window << this.sndWndShift;
    if (acked > 0) {
      const finAcked = this.finInFlight && seg.ack === this.sndNxt;
      const dataAcked = Math.min(acked, this.sendOffset);
      this.sendQueue.consume(dataAcked);
      this.sendOffset -= dataAcked;
      this.sndUna = seg.ack;
      this.dupAcks = 0;
      this.retransmissions = 0;
      this.sampleRtt(seg.ack);
      this.clearTimer();
      if (this.hostPaused && this.sendQueue.length < SEND_BUFFER / 2) this.resumeHost();
      if (finAcked) {
        this.finInFlight = false;
        this.finAcked = true;
        this.ourFinAcked();
      }
      if (this.state === "closed") return false;
    } else if (acked === 0 && seg.dataLength === 0 && !(seg.flags & FIN) && window === this.sndWnd && this.sendOffset > 0) {
      if (++this.dupAcks === 3) this.fastRetransmit();
    }
    this.sndWnd = window;
    return true;
  }

  private ourFinAcked(): void {
    switch (this.state) {
      case "fin-wait-1":
        this.state = "fin-wait-2";
        break;
      case "closing":
        this.enterTimeWait();
        break;
      case "last-ack":
        this.close();
        break;
    }
  }

  private processData(frame: Uint8Array, seg: TcpSegment): void {
    const receiving = this.state === "established" || this.state === "fin-wait-1" || this.state === "fin-wait-2";
    let len = seg.dataLength;
    const fin = (seg.flags & FIN) !== 0;
    if (len === 0 && !fin) return;
    if (!receiving) {
      if (len > 0 || fin) this.sendAck(); // data after the guest's FIN: re-acknowledge, ignore
      return;
    }
    let offset = seqDiff(this.rcvNxt, seg.seq);
    if (offset < 0) {
      this.stats.droppedOutOfOrder++;
      this.sendAck(); // a hole before it: the duplicate ACK asks for the missing bytes
      return;
    }
    if (offset > len || (offset === len && !fin)) {
      this.sendAck(); // entirely old: a retransmission we already have
      return;
    }
    len -= offset;
    const room = this.receiveRoom();
    const take = Math.min(len, room);
    if (take > 0 && this.host !== null) {
      this.host.write(frame.subarray(seg.data + offset, seg.data + offset + take));
      this.rcvNxt = seqAdd(this.rcvNxt, take);
    }
    if (take < len) {
      this.stats.droppedOutOfWindow++;
      this.windowClosed = true;
    } else if (fin) {
      this.rcvNxt = seqAdd(this.rcvNxt, 1);
      this.host?.end();
      if (this.state === "established") this.state = "close-wait";
      else if (this.state === "fin-wait-1") this.state = "closing";
      else if (this.state === "fin-wait-2") this.enterTimeWait();
    }
    if (this.receiveRoom() < this.ourMss) this.windowClosed = true;
    if (take === len && !fin && !this.windowClosed) this.delayAck();
    else this.sendAck();
  }

  /**
   * Acknowledges every second segment at once and a lone one when the
   * current batch of guest frames is done (RFC 1122's delayed ACK, with
   * the run loop's turn as the timer): half the ACK frames for the guest
   * to take in, at no cost in latency to a waiting sender. (Stretch ACKs
   * — one per 64 KiB, as a GRO receiver sends them — were measured and
   * made a guest's upload slower: its send buffer filled and it waited for
   * the turn's end. docs/benchmarks.md, "Network offloads".)
   */
  private delayAck(): void {
    if (++this.unackedSegments >= 2) {
      this.sendAck();
      return;
    }
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    process.nextTick(() => {
      this.ackScheduled = false;
      if (this.unackedSegments > 0 && this.state !== "closed") this.sendAck();
    });
  }

  /** Bytes the guest may still send: our buffer less what the host has not taken. */
  private receiveRoom(): number {
    return Math.max(0, RECEIVE_BUFFER - (this.host?.queuedBytes ?? 0));
  }

  private inWindow(seq: number): boolean {
    const d = seqDiff(seq, this.rcvNxt);
    return d >= 0 && d <= Math.max(1, this.receiveRoom());
  }

  /** Sends what the guest's window allows, then the FIN once the host ended and all bytes are out. */
  private pump(): void {
    if (!this.canSend()) return;
    const limit = Math.min(this.sndWnd, MAX_IN_FLIGHT);
    const before = this.sndNxt;
    const segment = this.largestSegment();
    while (this.sendOffset < this.sendQueue.length) {
      const len = Math.min(segment, this.sendQueue.length - this.sendOffset, limit - this.sendOffset);
      if (len <= 0) break;
      // A super-frame cut short by the window waits for the ACK of what is in flight, rather than going out in
      // slivers — when that is two full segments or more, which the guest acknowledges at once (a smaller one
      // could wait for its delayed-ACK timer: Nagle's trap).
      if (segment > this.mss && len < segment && len === limit - this.sendOffset && this.sendOffset >= 2 * this.mss) break;
      this.sendData(this.sendOffset, len);
      this.sendOffset += len;
      this.sndNxt = seqAdd(this.sndUna, this.sendOffset);
    }
    if (this.hostEnded && !this.finInFlight && !this.finAcked && this.sendOffset === this.sendQueue.length) {
      this.finInFlight = true;
      if (this.state === "established") this.state = "fin-wait-1";
      else if (this.state === "close-wait") this.state = "last-ack";
      this.emit(this.sndNxt, this.rcvNxt, FIN | ACK, this.advertisedWindow());
      this.sndNxt = seqAdd(this.sndNxt, 1);
    }
    const outstanding = seqDiff(this.sndNxt, this.sndUna) > 0;
    if (outstanding) {
      if (this.timerKind !== "rto") this.startTimer("rto", this.rto);
      if (this.rttSeq === -1 && this.sndNxt !== before) {
        this.rttSeq = this.sndNxt;
        this.rttStart = performance.now();
      }
    } else if (this.sendOffset < this.sendQueue.length && this.sndWnd === 0 && this.timerKind !== "persist") {
      this.startTimer("persist", this.rto);
    }
  }

  /** The guest's MSS, or a super-frame's worth when its side takes segmentation offload for our IP version. */
  private largestSegment(): number {
    const needed = OFFLOAD_CSUM | (this.tcpOffset === ipPayloadOffset(0) ? OFFLOAD_TSO4 : OFFLOAD_TSO6);
    if ((this.link.offloads() & needed) !== needed) return this.mss;
    return Math.floor(MAX_SUPER_FRAME_PAYLOAD / this.mss) * this.mss;
  }

  /** States in which our side still sends data or its FIN. */
  private canSend(): boolean {
    const s = this.state;
    return s === "established" || s === "close-wait" || s === "fin-wait-1" || s === "closing" || s === "last-ack";
  }

  private synchronized(): boolean {
    return this.state !== "connecting" && this.state !== "syn-sent" && this.state !== "syn-received" && this.state !== "closed";
  }

  private sendData(offset: number, len: number): void {
    const out = this.link.out;
    this.sendQueue.copyOut(offset, len, out, this.tcpOffset + TCP_HEADER);
    const last = offset + len === this.sendQueue.length;
    this.emit(seqAdd(this.sndUna, offset), this.rcvNxt, ACK | (last ? PSH : 0), this.advertisedWindow(), len);
  }

  private fastRetransmit(): void {
    this.stats.retransmits++;
    this.rttSeq = -1;
    this.sendData(0, Math.min(this.mss, this.sendOffset));
  }

  private onTimer(): void {
    const kind = this.timerKind;
    this.timer = null;
    this.timerKind = null;
    if (kind === "time-wait") {
      this.close();
      return;
    }
    if (kind === "persist") {
      // A window probe: an old sequence number makes the guest answer with its window.
      this.emit(seqAdd(this.sndUna, -1), this.rcvNxt, ACK, this.advertisedWindow());
      this.rto = Math.min(this.rto * 2, MAX_RTO_MS);
      this.pump();
      if (this.timerKind === null) this.startTimer("persist", this.rto);
      return;
    }
    if (++this.retransmissions > MAX_RETRANSMISSIONS) {
      this.hostFailed(); // the guest stopped answering: give up, as a real stack does
      return;
    }
    this.stats.retransmits++;
    this.rto = Math.min(this.rto * 2, MAX_RTO_MS);
    this.rttSeq = -1;
    if (this.state === "syn-sent" || this.state === "syn-received") {
      this.sendSyn();
      return;
    }
    // Go back to the oldest unacknowledged byte and send again as the window allows.
    this.sendOffset = 0;
    this.sndNxt = this.sndUna;
    this.finInFlight = false;
    this.pump();
    if (this.timerKind === null && this.sendQueue.length > 0) {
      // A closed window leaves nothing sent: probe it.
      this.startTimer("persist", this.rto);
    }
  }

  private sampleRtt(ack: number): void {
    if (this.rttSeq === -1 || seqDiff(ack, this.rttSeq) < 0) return;
    const r = performance.now() - this.rttStart;
    this.rttSeq = -1;
    if (this.srtt < 0) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.rto = Math.min(MAX_RTO_MS, Math.max(MIN_RTO_MS, this.srtt + 4 * this.rttvar));
  }

  private sendSyn(): void {
    const flags = this.state === "syn-sent" ? SYN : SYN | ACK;
    const scale = this.state === "syn-sent" || this.rcvWndShift > 0 ? OUR_WINDOW_SCALE : -1;
    const window = Math.min(0xffff, this.receiveRoom());
    const n = writeTcpSegment(this.link.out, this.tcpOffset, this.ends.remoteIp, this.ends.remotePort, this.ends.guestIp, this.ends.guestPort,
      this.iss, this.rcvNxt, flags, window, 0, this.ourMss, scale, true);
    this.link.sendTcp(this.ends.remoteIp, this.ends.guestIp, n);
    this.sndNxt = seqAdd(this.iss, 1);
    if (this.rttSeq === -1 && this.retransmissions === 0) {
      this.rttSeq = this.sndNxt;
      this.rttStart = performance.now();
    }
    this.startTimer("rto", this.rto);
  }

  private sendAck(): void {
    this.emit(this.sndNxt, this.rcvNxt, ACK, this.advertisedWindow());
  }

  private advertisedWindow(): number {
    return Math.min(0xffff, this.receiveRoom() >>> this.rcvWndShift);
  }

  private emit(seq: number, ack: number, flags: number, window: number, dataLength = 0): void {
    if (flags & ACK) this.unackedSegments = 0;
    const e = this.ends;
    const n = writeTcpSegment(this.link.out, this.tcpOffset, e.remoteIp, e.remotePort, e.guestIp, e.guestPort, seq, ack, flags, window, dataLength, 0, -1, true);
    this.link.sendTcp(e.remoteIp, e.guestIp, n, dataLength > this.mss ? this.mss : 0);
  }

  private resumeHost(): void {
    this.hostPaused = false;
    this.host?.resume();
  }

  private enterTimeWait(): void {
    this.state = "time-wait";
    this.startTimer("time-wait", TIME_WAIT_MS);
  }

  private startTimer(kind: "rto" | "persist" | "time-wait", ms: number): void {
    this.clearTimer();
    this.timerKind = kind;
    this.timer = setTimeout(() => this.onTimer(), ms);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerKind = null;
  }

  private close(): void {
    if (this.state === "closed") return;
    this.clearTimer();
    this.state = "closed";
    this.sendQueue.clear();
    this.link.closed(this);
  }
}
