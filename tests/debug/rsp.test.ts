/**
 * The GDB remote protocol layer on its own: packet framing against hostile
 * byte streams, and the stub's command parser against malformed packets
 * (over a real loopback socket, with a fake target). Nothing may throw;
 * bad checksums get `-`, malformed commands `E01`, unknown ones the empty
 * reply, and the connection keeps working afterwards.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { test } from "node:test";
import type { DebugTarget, ResumeAction, StopReason } from "../../src/debug/debug-target.ts";
import { GdbStub } from "../../src/debug/gdb-stub.ts";
import { readStateRegister, riscv64TargetXml, writeStateRegister, type StateLayout } from "../../src/debug/riscv-registers.ts";
import { MAX_PACKET, RspParser, framePacket, unescapeBinary } from "../../src/debug/rsp-connection.ts";

function parse(input: Uint8Array | string): string[] {
  const events: string[] = [];
  const parser = new RspParser({
    packet: (p) => events.push(`packet:${p.toString("latin1")}`),
    corrupt: () => events.push("corrupt"),
    interrupt: () => events.push("interrupt"),
    nack: () => events.push("nack"),
  });
  parser.feed(typeof input === "string" ? Buffer.from(input, "latin1") : input);
  return events;
}

test("framing: good packets, checksums, interrupt, nack, noise", () => {
  assert.deepEqual(parse("+$g#67"), ["packet:g"]);
  assert.deepEqual(parse("$g#68"), ["corrupt"]);
  assert.deepEqual(parse("$g#6z"), ["corrupt"]);
  assert.deepEqual(parse("\x03"), ["interrupt"]);
  assert.deepEqual(parse("-"), ["nack"]);
  assert.deepEqual(parse("garbage+++$?#3f"), ["packet:?"]);
  // A '$' inside a packet restarts framing: the cut-off packet is simply lost.
  assert.deepEqual(parse("$m10,4$?#3f"), ["packet:?"]);
  // Split across feeds.
  const events: string[] = [];
  const p = new RspParser({ packet: (x) => events.push(x.toString()), corrupt: () => events.push("corrupt"), interrupt: () => {}, nack: () => {} });
  for (const ch of "$qSupported#37") p.feed(Buffer.from(ch));
  assert.deepEqual(events, ["qSupported"]);
});

test("framing: an oversized packet is refused, the next one still parses", () => {
  const big = "a".repeat(MAX_PACKET + 10);
  let sum = 0;
  for (const c of big) sum += c.charCodeAt(0);
  const events = parse(`$${big}#${(sum & 0xff).toString(16).padStart(2, "0")}$?#3f`);
  assert.deepEqual(events, ["corrupt", "packet:?"]);
});

test("framing: escapes round-trip through framePacket and unescapeBinary", () => {
  const data = Buffer.from([0x24, 0x23, 0x7d, 0x2a, 0x00, 0xff, 0x41]);
  const framed = framePacket(data);
  const [event] = parse(framed);
  assert.ok(event.startsWith("packet:"));
  assert.deepEqual(unescapeBinary(Buffer.from(event.slice(7), "latin1")), data);
});

test("framing: random bytes never throw and every event is well formed", () => {
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) & 0xff;
  for (let round = 0; round < 200; round++) {
    const bytes = new Uint8Array(2000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = round % 2 === 0 ? rand() : "$#}*+-\x030123456789abcdef"[rand() % 22].charCodeAt(0);
    for (const e of parse(bytes)) assert.match(e, /^(packet:|corrupt$|interrupt$|nack$)/s);
  }
});

test("registers: x, pc, f and the FP CSRs in GDB's numbering", () => {
  const layout: StateLayout = { x: 0, f: 64, pc: 128, fflags: 131, frm: 132 };
  const w = new Int32Array(140);
  w[2 * 5] = 0x11223344;
  w[2 * 5 + 1] = -1;
  assert.equal(Buffer.from(readStateRegister(w, layout, 5)!).toString("hex"), "44332211ffffffff");
  assert.ok(writeStateRegister(w, layout, 68, Uint8Array.of(0x7f, 0, 0, 0))); // fcsr: frm=3, fflags=0x1f
  assert.equal(w[131], 0x1f);
  assert.equal(w[132], 3);
  assert.ok(writeStateRegister(w, layout, 0, new Uint8Array(8).fill(0xff)));
  assert.equal(Buffer.from(readStateRegister(w, layout, 0)!).toString("hex"), "0000000000000000");
  assert.equal(readStateRegister(w, layout, 65), null);
  assert.equal(readStateRegister(w, layout, 1000), null);
  assert.equal(writeStateRegister(w, layout, 32, new Uint8Array(3)), false);
  const xml = riscv64TargetXml(null);
  assert.match(xml, /org\.gnu\.gdb\.riscv\.cpu/);
  assert.match(xml, /name="fcsr" bitsize="32" type="int" regnum="68"/);
});

/** A target with one thread, 4 KiB of memory at 0x1000 and registers in an array. */
class FakeTarget implements DebugTarget {
  readonly targetXml = riscv64TargetXml(null);
  onStop: (r: StopReason) => void = () => {};
  readonly regs = new Int32Array(140);
  readonly mem = new Uint8Array(4096);
  readonly bps = new Set<bigint>();
  resumed: ResumeAction[] = [];
  private readonly layout: StateLayout = { x: 0, f: 64, pc: 128, fflags: 131, frm: 132 };
  threadIds() {
    return [7];
  }
  currentThread() {
    return 7;
  }
  readRegister(_t: number, r: number) {
    return readStateRegister(this.regs, this.layout, r);
  }
  writeRegister(_t: number, r: number, v: Uint8Array) {
    return writeStateRegister(this.regs, this.layout, r, v);
  }
  readMemory(_t: number, address: bigint, len: number) {
    const addr = Number(address);
    const start = Math.max(0, addr - 0x1000);
    return addr < 0x1000 ? new Uint8Array(0) : this.mem.slice(start, Math.min(4096, start + len));
  }
  writeMemory(_t: number, address: bigint, data: Uint8Array) {
    const addr = Number(address);
    if (addr < 0x1000 || addr + data.length > 0x2000) return false;
    this.mem.set(data, addr - 0x1000);
    return true;
  }
  resume(a: ResumeAction) {
    this.resumed.push(a);
    setImmediate(() => this.onStop({ kind: "signal", signal: 5, thread: 7 }));
  }
  interrupt() {
    this.onStop({ kind: "signal", signal: 2, thread: 7 });
  }
  attach() {}
  setBreakpoint(addr: bigint, on: boolean) {
    if (on) this.bps.add(addr);
    else this.bps.delete(addr);
  }
  kill() {}
  detach() {}
}

/** A client that sends packets (with acks) and collects replies. */
async function withStub(fn: (ask: (p: string) => Promise<string>, raw: (b: string) => void, target: FakeTarget) => Promise<void>) {
  const target = new FakeTarget();
  const stub = new GdbStub(target);
  const server = net.createServer((s) => stub.accept(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  const sock = net.connect(port, "127.0.0.1");
  await new Promise<void>((r) => sock.once("connect", r));
  let buffered = "";
  const waiters: Array<() => void> = [];
  sock.on("data", (d) => {
    buffered += d.toString("latin1");
    waiters.splice(0).forEach((w) => w());
  });
  const next = async (): Promise<string> => {
    for (;;) {
      const m = /\$([^#]*)#[0-9a-f]{2}/.exec(buffered);
      if (m) {
        buffered = buffered.slice(m.index + m[0].length);
        sock.write("+");
        return m[1];
      }
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  // Framed as gdb frames: no escaping but what the caller wrote (X data).
  const ask = (p: string) => {
    let sum = 0;
    for (const c of Buffer.from(p, "latin1")) sum += c;
    sock.write(Buffer.from(`$${p}#${(sum & 0xff).toString(16).padStart(2, "0")}`, "latin1"));
    return next();
  };
  try {
    await fn(ask, (b) => sock.write(b), target);
  } finally {
    sock.destroy();
    stub.close();
    server.close();
  }
}

test("stub: malformed and unknown packets get E01 or the empty reply; the connection keeps working", async () => {
  await withStub(async (ask, raw, target) => {
    assert.match(await ask("qSupported:multiprocess+;swbreak+"), /PacketSize=4000;qXfer:features:read\+;QStartNoAckMode\+;swbreak\+/);
    assert.equal(await ask("?"), "T05thread:7;");
    for (const bad of ["mzz,4", "m1000", "m1000,", "M1000,2:zz", "M1000,3:0011", "P1=zz", "P99=00", "Pzz=00", "p", "pzzz",
      "G00", "Z0,zz,2", "Z9,1000,2", "X1000,2", "X1000,5:ab", "Hgzz", "Tzz", "qXfer:features:read:target.xml:zz,10",
      "m10000000000000000,4", "p-1", "Z0,ffffffffffffffff0,2"]) {
      assert.match(await ask(bad), /^(E\d\d|)$/, bad);
    }
    for (const unknown of ["qFooBar", "vFoo", "Q", "!", "bc", "qTStatus", "vFile:open:x", "Z2,1000,4"]) assert.equal(await ask(unknown), "", unknown);
    raw("$m1000,4#00"); // bad checksum: answered '-', no reply packet
    assert.equal(await ask("m1000,4"), "00000000");
    assert.equal(await ask("M1000,4:deadbeef"), "OK");
    assert.equal(await ask("m1000,4"), "deadbeef");
    assert.equal(await ask("m0,4"), "E14");
    assert.equal(await ask("X1004,2:}\x03}\x5d"), "OK"); // escaped #, }
    assert.deepEqual([...target.mem.subarray(4, 6)], [0x23, 0x7d]);
    assert.equal(await ask("P20=0010000000000000"), "OK");
    assert.equal(await ask("p20"), "0010000000000000");
    assert.equal((await ask("g")).length, 33 * 16);
    assert.equal(await ask("Z0,1000,2"), "OK");
    assert.ok(target.bps.has(0x1000n));
    assert.equal(await ask("vCont?"), "vCont;c;C;s;S");
    assert.equal(await ask("vCont;s:7;c"), "T05thread:7;");
    assert.deepEqual(target.resumed.at(-1), { kind: "step", thread: 7, signal: 0 });
    // The signal a resume delivers (GDB's numbers): C, S, vCont;C/S; c and s none.
    for (const [packet, action] of [
      ["C0b", { kind: "continue", signal: 11 }], ["c", { kind: "continue", signal: 0 }], ["S1e", { kind: "step", thread: 7, signal: 30 }],
      ["vCont;C0b:7;c", { kind: "continue", signal: 11 }], ["vCont;S1e:7", { kind: "step", thread: 7, signal: 30 }],
    ] as const) {
      assert.equal(await ask(packet), "T05thread:7;", packet);
      assert.deepEqual(target.resumed.at(-1), action, packet);
    }
    for (const bad of ["Czz", "C0b;1000", "c1000", "C", "vCont;Czz:7", "vCont;x"]) assert.equal(await ask(bad), "E01", bad);
    const doc = await ask("qXfer:features:read:target.xml:0,fff");
    assert.match(doc, /^m<\?xml version/);
    assert.match(await ask(`qXfer:features:read:target.xml:${(doc.length - 1).toString(16)},fff`), /^l.*<\/target>\n$/s);
    assert.equal(await ask("QStartNoAckMode"), "OK");
    assert.equal(await ask("qfThreadInfo"), "m7");
    assert.equal(await ask("qsThreadInfo"), "l");
    assert.equal(await ask("vMustReplyEmpty"), "");
  });
});
