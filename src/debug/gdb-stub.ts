/**
 * A GDB remote stub: serves one gdb connection at a time on a TCP port for
 * a DebugTarget (qemu's `-g PORT` / `-s`). All-stop mode: every thread stops
 * when one does. Commands we do not know get the empty reply; malformed
 * ones get `E01`. See docs/debugging.md.
 */
import * as net from "node:net";
import { GDB_SIGTRAP, type DebugTarget, type ResumeAction, type StopReason } from "./debug-target.ts";
import { G_PACKET_REGS, registerSize } from "./riscv-registers.ts";
import { MAX_PACKET, RspConnection, unescapeBinary } from "./rsp-connection.ts";

const HEX_RE = /^[0-9a-fA-F]+$/;

export class GdbStub {
  private conn: RspConnection | null = null;
  private server: net.Server | null = null;
  /** The thread `g`/`p`/`m` act on (Hg). */
  private gThread = 0;
  /** The last stop, answered to `?`. */
  private lastStop: StopReason;
  private running = false;
  private detached = false;

  constructor(private readonly target: DebugTarget) {
    this.lastStop = { kind: "signal", signal: GDB_SIGTRAP, thread: target.currentThread() };
    target.onStop = (reason) => this.stopped(reason);
  }

  /** Listens on host:port; resolves once listening. */
  listen(port: number, host = "127.0.0.1"): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = net.createServer((socket) => this.accept(socket));
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
      this.server = server;
    });
  }

  /** Serves one connection (listen() hands it each; tests may hand it sockets of their own server). */
  accept(socket: net.Socket): void {
    if (this.conn !== null || this.detached) {
      socket.destroy(); // one debugger at a time
      return;
    }
    this.conn = new RspConnection(socket, {
      packet: (p) => this.handle(p),
      interrupt: () => {
        if (this.running) this.target.interrupt();
      },
      close: () => {
        this.conn = null;
        // A debugger that goes away without detaching leaves the program running, as qemu does.
        if (!this.detached) this.detach();
      },
    });
    this.target.attach();
    this.gThread = this.target.currentThread();
    if (this.lastStop.kind === "signal") this.lastStop = { kind: "signal", signal: GDB_SIGTRAP, thread: this.gThread };
    this.running = false;
  }

  /** Stops listening and drops the connection. */
  close(): void {
    this.server?.close();
    this.server = null;
    this.conn?.close();
  }

  private detach(): void {
    this.detached = true;
    this.running = true;
    this.target.detach();
    this.server?.close();
    this.server = null;
  }

  private stopped(reason: StopReason): void {
    this.running = false;
    this.lastStop = reason;
    if (reason.kind === "signal") this.gThread = reason.thread;
    this.conn?.send(stopReply(reason));
  }

  private reply(s: string | Buffer): void {
    this.conn?.send(s);
  }

  private handle(payload: Buffer): void {
    const p = payload.toString("latin1");
    try {
      const r = this.command(p, payload);
      if (r !== null) this.reply(r);
    } catch {
      this.reply("E01"); // a malformed packet must never take the host down
    }
  }

  /** The reply to a packet, or null when none is due now (resume, kill). */
  private command(p: string, raw: Buffer): string | Buffer | null {
    const t = this.target;
    switch (p[0]) {
      case "?":
        return stopReply(this.lastStop);
      case "g": {
        let out = "";
        for (let r = 0; r < G_PACKET_REGS; r++) out += hex(t.readRegister(this.gThread, r) ?? new Uint8Array(8));
        return out;
      }
      case "G": {
        const bytes = fromHex(p.slice(1));
        if (bytes === null || bytes.length < G_PACKET_REGS * 8) return "E01";
        for (let r = 0; r < G_PACKET_REGS; r++) t.writeRegister(this.gThread, r, bytes.subarray(r * 8, r * 8 + 8));
        return "OK";
      }
      case "p": {
        const regno = parseHex(p.slice(1));
        if (regno === null) return "E01";
        const v = t.readRegister(this.gThread, regno);
        return v === null ? "E01" : hex(v);
      }
      case "P": {
        const m = /^P([0-9a-fA-F]+)=([0-9a-fA-F]*)$/.exec(p);
        const regno = m ? parseHex(m[1]) : null;
        const bytes = m ? fromHex(m[2]) : null;
        if (regno === null || bytes === null || registerSize(regno) !== bytes.length) return "E01";
        return t.writeRegister(this.gThread, regno, bytes) ? "OK" : "E01";
      }
      case "m": {
        const m = /^m([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(p);
        const addr = m ? parseAddress(m[1]) : null;
        const len = m ? parseHex(m[2]) : null;
        if (addr === null || len === null) return "E01";
        const data = t.readMemory(this.gThread, addr, Math.min(len, MAX_PACKET / 2 - 8));
        return data.length === 0 && len > 0 ? "E14" : hex(data);
      }
      case "M": {
        const m = /^M([0-9a-fA-F]+),([0-9a-fA-F]+):([0-9a-fA-F]*)$/.exec(p);
        const addr = m ? parseAddress(m[1]) : null;
        const data = m ? fromHex(m[3]) : null;
        if (addr === null || data === null || data.length !== parseHex(m![2])) return "E01";
        return t.writeMemory(this.gThread, addr, data) ? "OK" : "E14";
      }
      case "X": {
        const colon = raw.indexOf(0x3a);
        const m = colon > 0 ? /^X([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(p.slice(0, colon)) : null;
        const addr = m ? parseAddress(m[1]) : null;
        const len = m ? parseHex(m[2]) : null;
        if (addr === null || len === null) return "E01";
        const data = unescapeBinary(raw.subarray(colon + 1));
        if (data.length !== len) return "E01";
        return len === 0 || t.writeMemory(this.gThread, addr, data) ? "OK" : "E14";
      }
      case "c":
      case "s":
      case "C":
      case "S": {
        // c[addr], s[addr], C sig[;addr], S sig[;addr]: resuming at another address is not supported (gdb never asks).
        const m = /^[cs]$|^[CS]([0-9a-fA-F]{1,2})$/.exec(p);
        if (m === null) return "E01";
        const signal = m[1] === undefined ? 0 : parseInt(m[1], 16);
        return this.resume(p[0] === "c" || p[0] === "C" ? { kind: "continue", signal } : { kind: "step", thread: this.gThread, signal });
      }
      case "Z":
      case "z":
        return this.breakpoint(p);
      case "H": {
        const id = parseThreadId(p.slice(2));
        if (id === null) return "E01";
        if (p[1] === "g" && id > 0) {
          if (!t.threadIds().includes(id)) return "E02";
          this.gThread = id;
        }
        return "OK";
      }
      case "T": {
        const id = parseThreadId(p.slice(1));
        return id !== null && t.threadIds().includes(id) ? "OK" : "E01";
      }
      case "k":
        this.running = true;
        this.detached = true;
        t.kill();
        return null;
      case "D":
        this.reply("OK");
        this.detach();
        this.conn?.close();
        return null;
      case "q":
      case "Q":
        return this.query(p);
      case "v":
        return this.vPacket(p);
      default:
        return "";
    }
  }

  private resume(action: ResumeAction): string | null {
    if (this.lastStop.kind !== "signal") return stopReply(this.lastStop);
    this.running = true;
    this.target.resume(action);
    return null;
  }

  private breakpoint(p: string): string {
    const m = /^[Zz]([0-4]),([0-9a-fA-F]+),([0-9a-fA-F]+)/.exec(p);
    const addr = m ? parseAddress(m[2]) : null;
    if (m === null || addr === null) return "E01";
    if (m[1] !== "0" && m[1] !== "1") return ""; // watchpoints: not supported
    this.target.setBreakpoint(addr, p[0] === "Z");
    return "OK";
  }

  private query(p: string): string | Buffer | null {
    const t = this.target;
    if (p.startsWith("qSupported")) {
      return `PacketSize=${MAX_PACKET.toString(16)};qXfer:features:read+;QStartNoAckMode+;swbreak+;hwbreak+;vContSupported+` +
        (t.auxv ? ";qXfer:auxv:read+" : "") + (t.execFile ? ";qXfer:exec-file:read+" : "");
    }
    if (p === "QStartNoAckMode") {
      this.reply("OK");
      this.conn?.startNoAck();
      return null;
    }
    if (p.startsWith("qXfer:")) return this.xfer(p);
    if (p === "qfThreadInfo") return "m" + t.threadIds().map((id) => id.toString(16)).join(",");
    if (p === "qsThreadInfo") return "l";
    if (p === "qC") return `QC${t.currentThread().toString(16)}`;
    if (p.startsWith("qAttached")) return "1";
    if (p === "qOffsets") return "Text=0;Data=0;Bss=0";
    if (p.startsWith("qSymbol")) return "OK";
    return "";
  }

  private xfer(p: string): string | Buffer {
    const m = /^qXfer:([a-z-]+):read:([^:]*):([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(p);
    if (m === null) return "";
    const offset = parseHex(m[3]);
    const len = parseHex(m[4]);
    if (offset === null || len === null) return "E01";
    let doc: Buffer;
    if (m[1] === "features") {
      if (m[2] !== "target.xml") return "E00";
      doc = Buffer.from(this.target.targetXml);
    } else if (m[1] === "auxv" && this.target.auxv) {
      doc = Buffer.from(this.target.auxv());
    } else if (m[1] === "exec-file" && this.target.execFile) {
      doc = Buffer.from(this.target.execFile());
    } else {
      return "";
    }
    const chunk = doc.subarray(offset, offset + Math.min(len, MAX_PACKET - 16));
    const more = offset + chunk.length < doc.length;
    return Buffer.concat([Buffer.from(more ? "m" : "l"), chunk]);
  }

  private vPacket(p: string): string | null {
    if (p === "vMustReplyEmpty") return "";
    if (p === "vCont?") return "vCont;c;C;s;S";
    if (p.startsWith("vCont;")) {
      // All-stop: a step action makes it a step; the first action with a signal gives the signal.
      let step: number | null = null;
      let signal = 0;
      for (const action of p.slice(6).split(";")) {
        const m = /^([cs]|[CS]([0-9a-fA-F]{1,2}))(?::(.+))?$/.exec(action);
        const id = m?.[3] === undefined ? this.gThread : parseThreadId(m[3]);
        if (m === null || id === null) return "E01";
        if (m[2] !== undefined && signal === 0) signal = parseInt(m[2], 16);
        if ((m[1][0] === "s" || m[1][0] === "S") && step === null) step = id > 0 ? id : this.gThread;
      }
      return this.resume(step === null ? { kind: "continue", signal } : { kind: "step", thread: step, signal });
    }
    if (p.startsWith("vKill")) {
      this.reply("OK");
      this.running = true;
      this.detached = true;
      this.target.kill();
      return null;
    }
    return "";
  }
}

export function stopReply(r: StopReason): string {
  if (r.kind === "exited") return `W${hex2(r.code & 0xff)}`;
  if (r.kind === "killed") return `X${hex2(r.signal & 0xff)}`;
  return `T${hex2(r.signal)}thread:${r.thread.toString(16)};${r.swbreak === true ? "swbreak:;" : ""}`;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex");
}

/** Bytes from an even-length hex string, or null. */
export function fromHex(s: string): Uint8Array | null {
  if (s.length % 2 !== 0 || (s.length > 0 && !HEX_RE.test(s))) return null;
  return new Uint8Array(Buffer.from(s, "hex"));
}

/** A hex number that fits a double exactly (addresses below 2^53), or null. */
export function parseHex(s: string): number | null {
  if (s.length === 0 || s.length > 16 || !HEX_RE.test(s)) return null;
  const v = parseInt(s, 16);
  return Number.isSafeInteger(v) ? v : null;
}

/** A 64-bit address (at most 16 hex digits), or null. */
export function parseAddress(s: string): bigint | null {
  if (s.length === 0 || s.length > 16 || !HEX_RE.test(s)) return null;
  return BigInt("0x" + s);
}

/** A thread id: hex, `0` (any) or `-1` (all, as -1). */
function parseThreadId(s: string): number | null {
  if (s === "-1") return -1;
  return parseHex(s);
}
