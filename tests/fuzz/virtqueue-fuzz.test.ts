/**
 * Fuzzing the virtqueue and the virtio devices with a seeded PRNG.
 *
 *   FUZZ_SEED=n        base seed (default below); each case derives its own
 *   FUZZ_ITERATIONS=n  scale the number of cases (default 1 = the counts below)
 *   FUZZ_ONLY=i        run only case i of each test (to reproduce a failure)
 *
 * A failure names the case and the command that reproduces it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { RAM_BASE } from "../../src/cpu/layout.ts";
import { BadSectorsBackend } from "../../src/backends/block/bad-sectors.ts";
import { MemoryBlockBackend } from "../../src/backends/block/memory.ts";
import type { EthernetBackend } from "../../src/backends/net/ethernet-backend.ts";
import { LoopbackEthernetBackend } from "../../src/backends/net/loopback.ts";
import { VirtioBlk } from "../../src/devices/virtio/blk.ts";
import { VirtioConsole } from "../../src/devices/virtio/console.ts";
import {
  INT_CONFIG_CHANGE,
  INT_USED_BUFFER,
  STATUS_DEVICE_NEEDS_RESET,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  feature,
} from "../../src/devices/virtio/constants.ts";
import type { VirtioDevice } from "../../src/devices/virtio/device.ts";
import * as R from "../../src/devices/virtio/mmio-transport.ts";
import { MmioTransport } from "../../src/devices/virtio/mmio-transport.ts";
import { VirtioNet } from "../../src/devices/virtio/net.ts";
import { VirtioRng } from "../../src/devices/virtio/rng.ts";
import { MAX_INDIRECT_DESCRIPTORS, Virtqueue } from "../../src/devices/virtio/virtqueue.ts";
import {
  DESC_F_INDIRECT,
  DESC_F_NEXT,
  DESC_F_WRITE,
  DriverQueue,
  GuestAllocator,
  MockDriver,
  MockIrq,
  TestMemory,
  type Buf,
} from "../virtio/mock-driver.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 0x7e57ab1e) >>> 0;
const SCALE = Number(process.env.FUZZ_ITERATIONS ?? 1);
const ONLY = process.env.FUZZ_ONLY === undefined ? -1 : Number(process.env.FUZZ_ONLY);

/** mulberry32: small, fast, good enough to explore. */
class Prng {
  constructor(private s: number) {}
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  below(n: number): number {
    return Math.floor((this.u32() / 0x1_0000_0000) * n);
  }
  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)];
  }
}

function caseSeed(i: number): number {
  return (SEED ^ Math.imul(i + 1, 0x9e3779b9)) >>> 0;
}

/** Runs `cases` seeded cases; a failure reports the case and how to rerun it alone. */
function fuzz(name: string, cases: number, body: (rng: Prng, i: number) => void): void {
  const n = Math.max(1, Math.round(cases * SCALE));
  for (let i = ONLY >= 0 ? ONLY : 0; i < (ONLY >= 0 ? ONLY + 1 : n); i++) {
    try {
      body(new Prng(caseSeed(i)), i);
    } catch (e) {
      const how = `FUZZ_SEED=${SEED} FUZZ_ONLY=${i} node --import tsx --test tests/fuzz/virtqueue-fuzz.test.ts`;
      const err = new Error(`${name}: case ${i} (seed ${caseSeed(i)}) failed; reproduce with ${how}\n${String(e)}`);
      (err as Error & { cause?: unknown }).cause = e;
      throw err;
    }
  }
}

const POW2 = [1, 2, 4, 8, 16, 32, 64];

// ---------------------------------------------------------------------------
// 1. The queue against a reference walker written straight from the spec.
// ---------------------------------------------------------------------------

type RefResult =
  | { kind: "empty" }
  | { kind: "fault"; why: RegExp }
  | { kind: "chain"; head: number; segs: [number, number, boolean][] };

/**
 * Reference model of `Virtqueue.pop` (BigInt addresses, no shortcuts). A
 * fault carries the reason the queue must report, checked in the same order.
 */
function referencePop(
  mem: TestMemory,
  q: { desc: number; avail: number; size: number; lastAvail: number; indirect: boolean },
): RefResult {
  const fault = (why: RegExp): RefResult => ({ kind: "fault", why });
  const ramEnd = BigInt(RAM_BASE + mem.ramSize);
  const inRam = (addr: bigint, len: number): number =>
    addr >= BigInt(RAM_BASE) && addr + BigInt(len) <= ramEnd ? Number(addr - BigInt(RAM_BASE)) : -1;
  const availIdx = mem.u16(q.avail + 2);
  const pending = (availIdx - q.lastAvail + 0x10000) % 0x10000;
  if (pending === 0) return { kind: "empty" };
  if (pending > q.size) return fault(/available index jumped/);
  const head = mem.u16(q.avail + 4 + 2 * (q.lastAvail % q.size));
  if (head >= q.size) return fault(/chain head/);
  const segs: [number, number, boolean][] = [];
  let table = q.desc;
  let entries = q.size;
  let nested = false;
  let i = head;
  let seen = 0;
  let sawWrite = false;
  for (;;) {
    seen++;
    if (seen > entries) return fault(/loops/);
    const d = table + 16 * i;
    const addr = (BigInt(mem.u32(d + 4)) << 32n) | BigInt(mem.u32(d));
    const len = mem.u32(d + 8);
    const flags = mem.u16(d + 12);
    const next = mem.u16(d + 14);
    if (flags & DESC_F_INDIRECT) {
      if (!q.indirect) return fault(/without VIRTIO_F_INDIRECT_DESC/);
      if (nested) return fault(/nested/);
      if (flags & DESC_F_NEXT) return fault(/with NEXT/);
      if (len === 0 || len % 16 !== 0 || len / 16 > MAX_INDIRECT_DESCRIPTORS) return fault(/indirect table length/);
      const off = inRam(addr, len);
      if (off < 0) return fault(/indirect table lies outside/);
      table = RAM_BASE + off;
      entries = len / 16;
      nested = true;
      i = 0;
      seen = 0;
      continue;
    }
    const off = inRam(addr, len);
    if (off < 0) return fault(/buffer lies outside/);
    const write = (flags & DESC_F_WRITE) !== 0;
    if (!write && sawWrite) return fault(/readable buffer after a writable/);
    sawWrite ||= write;
    segs.push([off, len, write]);
    if (!(flags & DESC_F_NEXT)) return { kind: "chain", head, segs };
    if (next >= entries) return fault(/next index/);
    i = next;
  }
}

/** A random guest address: mostly inside `lo..hi`, sometimes anywhere hostile. */
function randomAddr(rng: Prng, mem: TestMemory, lo: number, hi: number): number {
  const end = RAM_BASE + mem.ramSize;
  switch (rng.below(12)) {
    case 0: return end - rng.below(64); // straddles the end
    case 1: return RAM_BASE - 1 - rng.below(64); // just below RAM
    case 2: return rng.below(RAM_BASE); // low memory, MMIO
    case 3: return rng.u32() * 0x1_0000 + rng.below(0x1_0000); // up to 2^48
    case 4: return 2 ** 53 + rng.below(1 << 20) * 2 ** 32; // beyond 2^53 (high word >= 2^21)
    default: return lo + rng.below(hi - lo);
  }
}

function randomLen(rng: Prng): number {
  switch (rng.below(10)) {
    case 0: return 0;
    case 1: return rng.u32();
    case 2: return 0xffffffff;
    case 3: return 1 + rng.below(4096);
    default: return 1 + rng.below(64);
  }
}

/** Writes a 64-bit address that may be 2^53 or more, exactly. */
function setAddr(mem: TestMemory, at: number, addr: number): void {
  const hi = Math.floor(addr / 0x1_0000_0000);
  mem.setU32(at, addr - hi * 0x1_0000_0000);
  mem.setU32(at + 4, hi >>> 0);
}

interface ChainShape {
  /** readable then writable buffers */
  out: Buf[];
  inn: Buf[];
}

/**
 * Writes `chains` into `dq` unpublished: direct, indirect, or direct with an
 * indirect tail; `tables` provides memory for indirect tables. Stops quietly
 * when descriptors or table space run out.
 */
function writeChains(rng: Prng, dq: DriverQueue, tables: GuestAllocator, chains: ChainShape[], indirectOk: boolean): void {
  for (const c of chains) {
    const style = indirectOk ? rng.below(3) : 0;
    try {
      if (style === 0) {
        dq.add(c.out, c.inn, { publish: false });
      } else if (style === 1) {
        dq.add(c.out, c.inn, { indirect: true, publish: false });
      } else {
        // Direct part, then an indirect descriptor holding the rest (spec 2.7.5.3.2).
        const all = [...c.out.map((b) => [b, 0] as const), ...c.inn.map((b) => [b, DESC_F_WRITE] as const)];
        const split = rng.below(all.length);
        const direct = all.slice(0, split);
        const rest = all.slice(split);
        const table = tables.alloc(16 * rest.length, 16);
        rest.forEach(([b, f], k) => {
          const last = k === rest.length - 1;
          dq.writeDesc(table, k, b.addr, b.len, f | (last ? 0 : DESC_F_NEXT), last ? 0 : k + 1);
        });
        const ids = dq.take(direct.length + 1);
        direct.forEach(([b, f], k) => dq.writeDesc(dq.desc, ids[k], b.addr, b.len, f | DESC_F_NEXT, ids[k + 1]));
        dq.writeDesc(dq.desc, ids[direct.length], table, 16 * rest.length, DESC_F_INDIRECT, 0);
        dq.own(ids[0], ids);
        dq.offer(ids[0], false);
      }
    } catch {
      return; // out of descriptors or table space: fewer chains, still a valid case
    }
  }
}

/** Random in-range buffers for a chain, with an occasional hostile one. */
function randomShape(rng: Prng, mem: TestMemory, lo: number, hi: number, hostile: number): ChainShape {
  const buf = (): Buf => {
    if (rng.chance(hostile)) return { addr: randomAddr(rng, mem, lo, hi), len: randomLen(rng) };
    const len = rng.chance(0.1) ? 0 : 1 + rng.below(600);
    const addr = lo + rng.below(Math.max(1, hi - lo - len));
    return { addr, len };
  };
  const nOut = rng.below(4);
  const nIn = nOut === 0 ? 1 + rng.below(3) : rng.below(4);
  return { out: Array.from({ length: nOut }, buf), inn: Array.from({ length: nIn }, buf) };
}

/** Flips random bytes, halfwords and words in [lo, hi). */
function mutate(rng: Prng, mem: TestMemory, lo: number, hi: number, count: number): void {
  for (let k = 0; k < count; k++) {
    const at = lo + rng.below(hi - lo - 4);
    switch (rng.below(4)) {
      case 0: mem.ram[mem.off(at)] = rng.below(256); break;
      case 1: mem.setU16(at, rng.below(0x10000)); break;
      case 2: mem.setU32(at, rng.u32()); break;
      default: mem.ram[mem.off(at)] ^= 1 << rng.below(8);
    }
  }
}

/**
 * Targeted damage at the edges where off-by-one bugs live: indices at the
 * table size, lengths at the indirect limit, addresses at the end of RAM,
 * avail idx just past a full ring, loops.
 */
function mutateAtEdges(
  rng: Prng,
  mem: TestMemory,
  q: { desc: number; avail: number; size: number; lastAvail: number },
  tables: { addr: number; entries: number }[],
): void {
  const end = RAM_BASE + mem.ramSize;
  const t = tables.length > 0 && rng.chance(0.4) ? rng.pick(tables) : { addr: q.desc, entries: q.size };
  const d = t.addr + 16 * rng.below(t.entries);
  switch (rng.below(8)) {
    case 0:
      mem.setU16(d + 14, rng.pick([t.entries - 1, t.entries, t.entries + 1, 0xffff, rng.below(t.entries)]));
      mem.setU16(d + 12, mem.u16(d + 12) | DESC_F_NEXT);
      break;
    case 1:
      mem.setU16(d + 12, rng.pick([0, DESC_F_NEXT, DESC_F_WRITE, DESC_F_WRITE | DESC_F_NEXT, DESC_F_INDIRECT,
        DESC_F_INDIRECT | DESC_F_NEXT, DESC_F_INDIRECT | DESC_F_WRITE, rng.below(0x10000)]));
      break;
    case 2:
      mem.setU32(d + 8, rng.pick([0, 1, 15, 16, 17, 16 * MAX_INDIRECT_DESCRIPTORS, 16 * (MAX_INDIRECT_DESCRIPTORS + 1),
        0xfffffff0, 0xffffffff]));
      break;
    case 3: {
      const len = mem.u32(d + 8);
      setAddr(mem, d, rng.pick([end - len, end - len + 1, RAM_BASE - 1, RAM_BASE, end, 0]));
      break;
    }
    case 4:
      mem.setU16(q.avail + 2, (q.lastAvail + rng.pick([q.size, q.size + 1, 0x8000, 0xffff])) & 0xffff);
      break;
    case 5:
      mem.setU16(q.avail + 4 + 2 * rng.below(q.size), rng.pick([q.size - 1, q.size, q.size + 1, 0xffff]));
      break;
    case 6: // point an indirect descriptor at a table that holds itself
      mem.setU16(d + 12, DESC_F_INDIRECT);
      setAddr(mem, d, t.addr);
      mem.setU32(d + 8, 16 * t.entries);
      break;
    default:
      mutate(rng, mem, t.addr, t.addr + 16 * t.entries + 4, 1);
  }
}

/**
 * One chain through `n` descriptors of `table` in a random order, readable
 * ones first; with `loop`, the last one points back into the chain.
 * Returns the first descriptor.
 */
function writeLongChain(
  rng: Prng,
  dq: DriverQueue,
  table: number,
  n: number,
  loop: boolean,
  buffers: [number, number],
  startAtZero = false,
): number {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  // An indirect table's chain starts at entry 0.
  if (startAtZero) {
    order.splice(order.indexOf(0), 1);
    order.unshift(0);
  }
  const firstWritable = rng.below(n + 1);
  order.forEach((idx, k) => {
    const last = k === n - 1;
    const len = rng.below(64);
    const addr = buffers[0] + rng.below(buffers[1] - buffers[0] - len);
    const flags = (k >= firstWritable ? DESC_F_WRITE : 0) | (last && !loop ? 0 : DESC_F_NEXT);
    dq.writeDesc(table, idx, addr, len, flags, last ? (loop ? order[rng.below(n)] : 0) : order[k + 1]);
  });
  return order[0];
}

test("fuzz: pop and needsInterrupt agree with reference models on random and damaged rings", () => {
  const mem = new TestMemory(1 << 17);
  const DESC_AREA = RAM_BASE; // descriptor table and avail ring
  const TABLES = RAM_BASE + 0x2000; // indirect tables
  const USED_AREA = RAM_BASE + 0x8000;
  const BUFFERS: [number, number] = [RAM_BASE + 0x9000, RAM_BASE + (1 << 17)];
  let chains = 0;
  let faults = 0;
  let interrupts = 0;
  fuzz("pop vs reference", 4000, (rng) => {
    mem.ram.fill(0);
    const size = rng.pick(POW2);
    const eventIdx = rng.chance(0.5);
    const indirect = rng.chance(0.7);
    const ringAlloc = new GuestAllocator(mem, DESC_AREA, DESC_AREA + 0x2000);
    const usedAlloc = new GuestAllocator(mem, USED_AREA, USED_AREA + 0x1000);
    const tableAlloc = new GuestAllocator(mem, TABLES, TABLES + 0x6000);
    const dq = new DriverQueue(mem, ringAlloc, size, usedAlloc);
    const qFaults: string[] = [];
    const vq = new Virtqueue(mem.bus, 64, (r) => qFaults.push(r));
    // Start anywhere in the 16-bit index space to cover wrap-around.
    const start = rng.chance(0.5) ? rng.below(0x10000) : 0;
    const st = vq.save();
    assert.equal(
      vq.restore({ ...st, size, ready: true, desc: [dq.desc >>> 0, 0], driver: [dq.avail >>> 0, 0], device: [dq.used >>> 0, 0], lastAvail: start, nextUsed: start }),
      null,
    );
    vq.eventIdx = eventIdx;
    vq.indirect = indirect;
    vq.running = true;
    dq.availIdx = start;
    const tables: { addr: number; entries: number }[] = [];
    switch (rng.below(3)) {
      case 0: // a chain through the whole descriptor table, maybe looping
        dq.offer(writeLongChain(rng, dq, dq.desc, size, rng.chance(0.5), BUFFERS), false);
        break;
      case 1: { // a long chain in an indirect table at or around the length limit
        const n = rng.pick([MAX_INDIRECT_DESCRIPTORS, MAX_INDIRECT_DESCRIPTORS + 1, 1 + rng.below(40)]);
        const table = tableAlloc.alloc(16 * n, 16);
        const head = rng.below(size);
        writeLongChain(rng, dq, table, n, rng.chance(0.3), BUFFERS, true);
        dq.writeDesc(dq.desc, head, table, 16 * n, DESC_F_INDIRECT, 0);
        dq.offer(head, false);
        tables.push({ addr: table, entries: n });
        break;
      }
      default: {
        const shapes = Array.from({ length: rng.below(size + 1) }, () => randomShape(rng, mem, BUFFERS[0], BUFFERS[1], 0.05));
        writeChains(rng, dq, tableAlloc, shapes, indirect || rng.chance(0.1));
      }
    }
    dq.publish();
    const damage = rng.below(4);
    for (let k = 0; k < damage; k++) mutateAtEdges(rng, mem, { desc: dq.desc, avail: dq.avail, size, lastAvail: start }, tables);
    if (rng.chance(0.05)) {
      for (let k = 0; k < 16 * size; k += 4) mem.setU32(dq.desc + k, rng.u32());
    }
    if (rng.chance(0.5)) dq.setUsedEvent(rng.chance(0.5) ? (start + rng.below(size + 2)) & 0xffff : rng.below(0x10000));
    if (rng.chance(0.3)) dq.setAvailFlags(rng.below(4));
    let lastAvail = start;
    let nextUsed = start;
    let signalled = -1;
    for (let step = 0; step <= size + 1; step++) {
      const ref = referencePop(mem, { desc: dq.desc, avail: dq.avail, size, lastAvail, indirect });
      const c = vq.pop();
      if (ref.kind === "empty") {
        assert.equal(c, null);
        assert.deepEqual(qFaults, []);
        break;
      }
      if (ref.kind === "fault") {
        assert.equal(c, null, "reference says the chain is invalid");
        assert.equal(qFaults.length, 1, "exactly one fault reported");
        assert.match(qFaults[0], ref.why);
        assert.equal(vq.running, false);
        assert.equal(vq.pop(), null);
        faults++;
        break;
      }
      assert.ok(c !== null, `reference found chain ${ref.head}; queue fault: ${qFaults[0]}`);
      assert.equal(c.head, ref.head);
      const got: [number, number, boolean][] = [];
      for (let k = 0; k < c.count; k++) got.push([c.offset[k], c.length[k], k >= c.readable]);
      assert.deepEqual(got, ref.segs);
      assert.equal(c.readableBytes, ref.segs.filter((s) => !s[2]).reduce((a, s) => a + s[1], 0));
      assert.equal(c.writableBytes, ref.segs.filter((s) => s[2]).reduce((a, s) => a + s[1], 0));
      lastAvail = (lastAvail + 1) & 0xffff;
      if (eventIdx) assert.equal(dq.availEvent(), lastAvail, "avail_event follows");
      const len = rng.u32();
      vq.push(c.head, len);
      const elem = dq.used + 4 + 8 * (nextUsed % size);
      nextUsed = (nextUsed + 1) & 0xffff;
      assert.equal(mem.u32(elem), c.head);
      assert.equal(mem.u32(elem + 4), len);
      assert.equal(dq.usedIdx(), nextUsed);
      chains++;
      if (rng.chance(0.5)) {
        // Reference: interrupt when the entries written since the last check
        // include used_event (EVENT_IDX), else unless NO_INTERRUPT is set.
        let want: boolean;
        const usedEvent = mem.u16(dq.avail + 4 + 2 * size);
        if (!eventIdx) want = (mem.u16(dq.avail) & 1) === 0;
        else if (signalled < 0) want = true;
        else want = (usedEvent - signalled + 0x10000) % 0x10000 < (nextUsed - signalled + 0x10000) % 0x10000;
        if (eventIdx) signalled = nextUsed;
        assert.equal(vq.needsInterrupt(), want, `used_event ${usedEvent}, used idx ${nextUsed}`);
        if (want) interrupts++;
        if (rng.chance(0.3)) dq.setUsedEvent((nextUsed + rng.below(4)) & 0xffff);
      }
    }
    assert.ok(mem.canariesIntact(), "nothing written outside RAM");
  });
  if (process.env.FUZZ_STATS) console.log({ chains, faults, interrupts });
  // The generator must exercise both outcomes, or the comparison proves little.
  if (ONLY < 0) {
    assert.ok(chains > 1000, `only ${chains} valid chains generated`);
    assert.ok(faults > 500, `only ${faults} faults generated`);
    assert.ok(interrupts > 300, `only ${interrupts} interrupts expected`);
  }
});

test("fuzz: enable accepts exactly the layouts that are aligned and inside RAM", () => {
  const mem = new TestMemory(1 << 16);
  const end = RAM_BASE + mem.ramSize;
  let accepted = 0;
  fuzz("enable vs reference", 3000, (rng) => {
    const vq = new Virtqueue(mem.bus, 64, () => {});
    const size = rng.chance(0.8) ? rng.pick(POW2) : rng.below(200);
    const addr = (align: number) => {
      const a = rng.chance(0.6) ? RAM_BASE + align * rng.below(mem.ramSize / align) : randomAddr(rng, mem, RAM_BASE, end);
      return rng.chance(0.1) ? a + 1 + rng.below(align) : a;
    };
    const desc = addr(16);
    const avail = addr(2);
    const used = addr(4);
    vq.size = size;
    [vq.descLo, vq.descHi] = [desc % 2 ** 32, Math.floor(desc / 2 ** 32)];
    [vq.driverLo, vq.driverHi] = [avail % 2 ** 32, Math.floor(avail / 2 ** 32)];
    [vq.deviceLo, vq.deviceHi] = [used % 2 ** 32, Math.floor(used / 2 ** 32)];
    const fits = (a: number, len: number) => a >= RAM_BASE && a + len <= end;
    const expected =
      size >= 1 && size <= 64 && (size & (size - 1)) === 0 &&
      desc % 16 === 0 && avail % 2 === 0 && used % 4 === 0 &&
      fits(desc, 16 * size) && fits(avail, 6 + 2 * size) && fits(used, 6 + 8 * size);
    assert.doesNotThrow(() => vq.enable());
    assert.equal(vq.ready, expected, `size ${size} desc ${desc} avail ${avail} used ${used}`);
    if (expected) accepted++;
  });
  if (process.env.FUZZ_STATS) console.log({ accepted });
  if (ONLY < 0) assert.ok(accepted > 300, `only ${accepted} valid layouts generated`);
});

// ---------------------------------------------------------------------------
// 2. Whole devices behind the transport, driven with random chains.
// ---------------------------------------------------------------------------

const TABLE_LO = RAM_BASE; // descriptor tables, avail rings, indirect tables
const TABLE_HI = RAM_BASE + 0x3000;
const USED_LO = RAM_BASE + 0x3000; // used rings
const USED_HI = RAM_BASE + 0x4000;
const DATA_LO = RAM_BASE + 0x4000; // buffers
const DATA_HI = RAM_BASE + 0x10000;

class FuzzNetBackend implements EthernetBackend {
  receiver: ((f: Uint8Array) => void) | null = null;
  send(): void {}
  onReceive(r: (f: Uint8Array) => void): void {
    this.receiver = r;
  }
}

interface DeviceCase {
  device: VirtioDevice;
  /** Queues whose buffers the device consumes on every kick. */
  consuming: number[];
  /** Feeds host-side input (frames, keystrokes), if the device takes any. */
  input?: (rng: Prng) => void;
  /** Shapes a request (default: random buffers). */
  shape?: (rng: Prng, mem: TestMemory) => ChainShape;
}

function blkRequest(rng: Prng, mem: TestMemory): ChainShape {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  v.setUint32(0, rng.pick([0, 1, 4, 8, 0, 1, rng.u32()]), true);
  v.setUint32(8, rng.chance(0.8) ? rng.below(80) : rng.u32(), true);
  v.setUint32(12, rng.chance(0.9) ? 0 : rng.u32(), true);
  const hdrAddr = DATA_LO + rng.below(DATA_HI - DATA_LO - 16);
  mem.write(hdrAddr, h);
  const data = (): Buf => {
    const len = rng.chance(0.8) ? 512 * (1 + rng.below(3)) : rng.below(1500);
    return { addr: DATA_LO + rng.below(DATA_HI - DATA_LO - len), len };
  };
  const nData = rng.below(3);
  const dataBufs = Array.from({ length: nData }, data);
  const status: Buf = { addr: DATA_LO + rng.below(DATA_HI - DATA_LO - 1), len: 1 };
  return rng.chance(0.5)
    ? { out: [{ addr: hdrAddr, len: rng.chance(0.95) ? 16 : rng.below(16) }, ...dataBufs], inn: [status] }
    : { out: [{ addr: hdrAddr, len: 16 }], inn: [...dataBufs, status] };
}

function makeCase(rng: Prng): DeviceCase {
  switch (rng.below(4)) {
    case 0: {
      // Random contents, so that a stray byte copied from disk shows up in RAM.
      const bytes = Uint8Array.from({ length: 64 * 512 }, () => rng.below(256));
      const disk = new MemoryBlockBackend(bytes, { readOnly: rng.chance(0.2) });
      const backend = rng.chance(0.3) ? new BadSectorsBackend(disk, [{ sector: 1 + rng.below(63), count: 1 + rng.below(8) }]) : disk;
      return {
        device: new VirtioBlk({ backend, queueSize: rng.pick([8, 16, 32]) }),
        consuming: [0],
        shape: (r, mem) => (r.chance(0.8) ? blkRequest(r, mem) : randomShape(r, mem, DATA_LO, DATA_HI, 0.1)),
      };
    }
    case 1: {
      const backend = rng.chance(0.5) ? new LoopbackEthernetBackend() : new FuzzNetBackend();
      const net = new VirtioNet({ backend, queueSize: rng.pick([8, 16]) });
      return {
        device: net,
        consuming: [1],
        input: (r) => {
          if (backend instanceof FuzzNetBackend) backend.receiver?.(new Uint8Array(r.below(2000)).fill(r.below(256)));
        },
      };
    }
    case 2:
      return {
        device: new VirtioRng({ source: { fill: (d, o, n) => d.fill(0x5a, o, o + n) }, queueSize: rng.pick([4, 8, 16]) }),
        consuming: [0],
      };
    default: {
      let receiver: ((d: Uint8Array) => void) | null = null;
      const con = new VirtioConsole({
        stream: { write: () => {}, onData: (r) => (receiver = r) },
        queueSize: rng.pick([4, 8]),
      });
      return { device: con, consuming: [1], input: (r) => receiver?.(new Uint8Array(r.below(100)).fill(0x41)) };
    }
  }
}

function offeredFeatures(t: MmioTransport): bigint {
  t.write(R.REG_DEVICE_FEATURES_SEL, 4, 1);
  const hi = BigInt(t.read(R.REG_DEVICE_FEATURES, 4));
  t.write(R.REG_DEVICE_FEATURES_SEL, 4, 0);
  return (hi << 32n) | BigInt(t.read(R.REG_DEVICE_FEATURES, 4));
}

/** Guest byte ranges (RAM offsets) the device may write: used rings and WRITE buffers. */
function permittedWrites(mem: TestMemory, queues: DriverQueue[]): { ranges: [number, number][]; tablesExposed: boolean } {
  const ranges: [number, number][] = [];
  let tablesExposed = false;
  const add = (addrLo: number, addrHi: number, len: number) => {
    if (addrHi !== 0) return;
    const off = addrLo - RAM_BASE;
    if (off < 0 || off + len > mem.ramSize) return;
    ranges.push([off, off + len]);
    if (addrLo < DATA_LO && addrLo + len > TABLE_LO) tablesExposed = true;
  };
  for (const q of queues) {
    ranges.push([q.used - RAM_BASE, q.used - RAM_BASE + 6 + 8 * q.size]);
    for (let i = 0; i < q.size; i++) {
      const d = q.desc + 16 * i;
      const flags = mem.u16(d + 12);
      const lo = mem.u32(d);
      const hi = mem.u32(d + 4);
      const len = mem.u32(d + 8);
      if (flags & DESC_F_INDIRECT) {
        if (hi !== 0 || lo < RAM_BASE || lo - RAM_BASE + 16 > mem.ramSize) continue;
        const n = Math.min(Math.floor(len / 16), MAX_INDIRECT_DESCRIPTORS, Math.floor((RAM_BASE + mem.ramSize - lo) / 16));
        for (let k = 0; k < n; k++) {
          const e = lo + 16 * k;
          if (mem.u16(e + 12) & DESC_F_WRITE) add(mem.u32(e), mem.u32(e + 4), mem.u32(e + 8));
        }
      } else if (flags & DESC_F_WRITE) {
        add(lo, hi, len);
      }
    }
  }
  return { ranges, tablesExposed };
}

test("fuzz: devices never throw, never write outside their buffers, and process or need a reset", () => {
  const mem = new TestMemory(1 << 16);
  let strictChecks = 0;
  let completed = 0;
  let resets = 0;
  fuzz("devices", 2000, (rng) => {
    mem.ram.fill(0);
    // Random bytes in the buffer area, so that writes of zeros show up too.
    for (let a = DATA_LO; a < DATA_HI; a += 4) mem.setU32(a, rng.u32());
    const tables = new GuestAllocator(mem, TABLE_LO + 0x1800, TABLE_HI);
    const dc = makeCase(rng);
    const irq = new MockIrq();
    const t = new MmioTransport({
      base: 0x10008000,
      irq: 8,
      sink: irq,
      mem: mem.bus,
      device: dc.device,
      eventIdx: rng.chance(0.8),
      indirect: rng.chance(0.8),
    });
    const ringAlloc = new GuestAllocator(mem, TABLE_LO, TABLE_LO + 0x1800);
    const usedAlloc = new GuestAllocator(mem, USED_LO, USED_HI);
    const drv = new MockDriver(mem, t, ringAlloc);
    const nq = dc.device.queueSizes.length;
    // Half the time accept a random subset of the optional ring features.
    const ringFeatures = feature(VIRTIO_F_EVENT_IDX) | feature(VIRTIO_F_INDIRECT_DESC);
    const offered = offeredFeatures(t);
    const someRingFeatures = ringFeatures & (BigInt(rng.u32()) << 28n);
    const accept = rng.chance(0.5) ? undefined : (offered & ~ringFeatures) | (offered & someRingFeatures);
    assert.equal(
      drv.init(nq, {
        accept,
        queueSize: rng.pick([2, 4, 8, 16]),
        makeQueue: (size) => new DriverQueue(mem, ringAlloc, size, usedAlloc),
      }),
      true,
    );
    const indirectOk = t.hasFeature(VIRTIO_F_INDIRECT_DESC);
    const rounds = 1 + rng.below(3);
    for (let round = 0; round < rounds; round++) {
      for (const q of drv.queues) {
        const n = rng.below(q.size + 1);
        const shapes = Array.from({ length: n }, () =>
          dc.shape?.(rng, mem) ?? randomShape(rng, mem, DATA_LO, DATA_HI, 0.05),
        );
        writeChains(rng, q, tables, shapes, indirectOk || rng.chance(0.05));
        q.publish();
      }
      if (rng.chance(0.3)) mutate(rng, mem, TABLE_LO, TABLE_HI, 1 + rng.below(3));
      const { ranges, tablesExposed } = permittedWrites(mem, drv.queues);
      const before = mem.ram.slice();
      for (let k = 0; k < 3; k++) if (rng.chance(0.5)) dc.input?.(rng);
      const kicks = [...Array(nq).keys(), rng.below(4)];
      for (const qi of kicks) drv.kick(qi);
      assert.ok(mem.canariesIntact(), "no write outside guest RAM");
      if (!tablesExposed) {
        strictChecks++;
        for (let i = 0; i < mem.ramSize; i++) {
          if (mem.ram[i] === before[i]) continue;
          assert.ok(
            ranges.some(([a, b]) => i >= a && i < b),
            `byte at RAM offset 0x${i.toString(16)} changed but no used ring or writable buffer covers it`,
          );
        }
      }
      const status = drv.status();
      const broken = (status & STATUS_DEVICE_NEEDS_RESET) !== 0;
      const intStatus = drv.reg(R.REG_INTERRUPT_STATUS);
      assert.equal(irq.level(8), intStatus !== 0, "IRQ line follows InterruptStatus");
      assert.equal(intStatus & ~(INT_USED_BUFFER | INT_CONFIG_CHANGE), 0);
      if (broken) {
        assert.notEqual(t.brokenReason, null);
        assert.ok(t.queues.every((q) => !q.running), "a broken device runs no queue");
        assert.notEqual(intStatus & INT_CONFIG_CHANGE, 0, "the driver is told");
        resets++;
        break;
      }
      if (!tablesExposed) {
        for (const qi of dc.consuming) {
          const q = drv.queues[qi];
          assert.equal(q.usedIdx(), mem.u16(q.avail + 2), `queue ${qi}: every available chain was used`);
        }
      }
      completed++;
      for (const q of drv.queues) q.takeUsed();
    }
  });
  if (process.env.FUZZ_STATS) console.log({ strictChecks, completed, resets });
  if (ONLY < 0) {
    assert.ok(strictChecks > 1000, `write bounds checked in only ${strictChecks} rounds`);
    assert.ok(completed > 500, `only ${completed} rounds completed normally`);
    assert.ok(resets > 300, `only ${resets} cases ended in needs-reset`);
  }
});

// ---------------------------------------------------------------------------
// 3. Random register traffic.
// ---------------------------------------------------------------------------

const REGS = [
  R.REG_DEVICE_FEATURES_SEL, R.REG_DRIVER_FEATURES, R.REG_DRIVER_FEATURES_SEL, R.REG_QUEUE_SEL,
  R.REG_QUEUE_NUM, R.REG_QUEUE_READY, R.REG_QUEUE_NOTIFY, R.REG_INTERRUPT_ACK, R.REG_STATUS,
  R.REG_QUEUE_DESC_LOW, R.REG_QUEUE_DESC_HIGH, R.REG_QUEUE_DRIVER_LOW, R.REG_QUEUE_DRIVER_HIGH,
  R.REG_QUEUE_DEVICE_LOW, R.REG_QUEUE_DEVICE_HIGH, R.REG_SHM_SEL, R.REG_CONFIG, R.REG_CONFIG + 6,
];

test("fuzz: random register traffic never throws and the device recovers after a reset", () => {
  const mem = new TestMemory(1 << 16);
  fuzz("registers", 600, (rng) => {
    mem.ram.fill(0);
    for (let i = 0; i < 0x4000; i += 4) mem.setU32(RAM_BASE + i, rng.chance(0.5) ? rng.u32() : rng.below(64));
    const dc = makeCase(rng);
    const irq = new MockIrq();
    const t = new MmioTransport({ base: 0x10008000, irq: 8, sink: irq, mem: mem.bus, device: dc.device });
    for (let op = 0; op < 80; op++) {
      const size = rng.chance(0.85) ? 4 : rng.pick([1, 2] as const);
      const offset = rng.chance(0.85) ? rng.pick(REGS) : rng.below(0x1000);
      if (rng.chance(0.3)) {
        assert.doesNotThrow(() => t.read(offset, size));
        continue;
      }
      let value: number;
      switch (offset) {
        case R.REG_QUEUE_DESC_LOW:
        case R.REG_QUEUE_DRIVER_LOW:
        case R.REG_QUEUE_DEVICE_LOW:
          value = rng.chance(0.8) ? RAM_BASE + 16 * rng.below(0x400) : rng.u32();
          break;
        case R.REG_STATUS:
          value = rng.chance(0.2) ? 0 : rng.below(256);
          break;
        case R.REG_DRIVER_FEATURES:
          value = rng.chance(0.5) ? 1 : rng.u32();
          break;
        default:
          value = rng.chance(0.7) ? rng.below(20) : rng.u32();
      }
      t.write(offset, size, value);
      if (rng.chance(0.2)) dc.input?.(rng);
      assert.equal(irq.level(8), t.read(R.REG_INTERRUPT_STATUS, 4) !== 0, "IRQ line follows InterruptStatus");
    }
    assert.ok(mem.canariesIntact(), "no write outside guest RAM");
    // Whatever happened, a reset and a clean bring-up give a working device
    // (sector 0 is never a bad sector, so the read must succeed).
    mem.ram.fill(0, 0x8000);
    const drv = new MockDriver(mem, t, new GuestAllocator(mem, RAM_BASE + 0x8000, RAM_BASE + 0x10000));
    assert.equal(drv.init(dc.device.queueSizes.length), true);
    assert.equal(drv.status() & STATUS_DEVICE_NEEDS_RESET, 0);
    const q = drv.queues[dc.consuming[0]];
    if (dc.device instanceof VirtioBlk) {
      const hdr = drv.alloc.data(new Uint8Array(16)); // IN, sector 0
      const status = drv.alloc.space(1, 0xff);
      q.add([hdr], [drv.alloc.space(512), status]);
      drv.kick(0);
      assert.equal(mem.read(status.addr, 1)[0], 0, "read completes with OK");
    } else if (dc.device instanceof VirtioRng) {
      q.add([], [drv.alloc.space(8)]);
      drv.kick(0);
    } else {
      q.add([drv.alloc.data(new Uint8Array(20))], []);
      drv.kick(1);
    }
    assert.equal(q.usedIdx(), 1, "the request completed");
  });
});
