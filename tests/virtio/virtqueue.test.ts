import { test } from "node:test";
import assert from "node:assert/strict";
import { RAM_BASE } from "../../src/cpu/layout.ts";
import { MAX_INDIRECT_DESCRIPTORS, Virtqueue } from "../../src/devices/virtio/virtqueue.ts";
import {
  DESC_F_INDIRECT,
  DESC_F_NEXT,
  DESC_F_WRITE,
  DriverQueue,
  GuestAllocator,
  TestMemory,
  type Buf,
} from "./mock-driver.ts";

interface Rig {
  mem: TestMemory;
  alloc: GuestAllocator;
  dq: DriverQueue;
  vq: Virtqueue;
  faults: string[];
}

function rig(size = 16, opts: { eventIdx?: boolean; indirect?: boolean; ramSize?: number } = {}): Rig {
  const mem = new TestMemory(opts.ramSize ?? 1 << 20);
  const alloc = new GuestAllocator(mem);
  const dq = new DriverQueue(mem, alloc, size);
  const faults: string[] = [];
  const vq = new Virtqueue(mem.bus, size, (r) => faults.push(r));
  setRings(vq, dq);
  assert.equal(vq.enable(), null);
  vq.eventIdx = opts.eventIdx ?? false;
  vq.indirect = opts.indirect ?? true;
  vq.running = true;
  return { mem, alloc, dq, vq, faults };
}

function setRings(vq: Virtqueue, dq: DriverQueue): void {
  vq.size = dq.size;
  vq.descLo = dq.desc >>> 0;
  vq.driverLo = dq.avail >>> 0;
  vq.deviceLo = dq.used >>> 0;
}

function segments(vq: Virtqueue): { off: number; len: number }[] | null {
  const c = vq.pop();
  if (c === null) return null;
  const out = [];
  for (let i = 0; i < c.count; i++) out.push({ off: c.offset[i], len: c.length[i] });
  return out;
}

test("pop returns null on an empty ring and a chain once one is published", () => {
  const { dq, vq, alloc, mem, faults } = rig();
  assert.equal(vq.pop(), null);
  const a = alloc.data([1, 2, 3]);
  const b = alloc.data([4, 5]);
  const w = alloc.space(7);
  const head = dq.add([a, b], [w], { publish: false });
  assert.equal(vq.pop(), null, "an unpublished chain is invisible");
  dq.publish();
  const c = vq.pop();
  assert.ok(c !== null);
  assert.equal(c.head, head);
  assert.equal(c.count, 3);
  assert.equal(c.readable, 2);
  assert.equal(c.readableBytes, 5);
  assert.equal(c.writableBytes, 7);
  assert.deepEqual(
    [0, 1, 2].map((i) => [c.offset[i], c.length[i]]),
    [[mem.off(a.addr), 3], [mem.off(b.addr), 2], [mem.off(w.addr), 7]],
  );
  assert.equal(vq.pop(), null);
  assert.deepEqual(faults, []);
});

test("readBytes and writeBytes gather and scatter across segments", () => {
  const { dq, vq, alloc, mem } = rig();
  const r1 = alloc.data([10, 11, 12]);
  const r2 = alloc.data([13, 14, 15, 16]);
  const w1 = alloc.space(2, 0xee);
  const w2 = alloc.space(5, 0xee);
  dq.add([r1, r2], [w1, w2]);
  const c = vq.pop();
  assert.ok(c !== null);
  const got = new Uint8Array(6);
  assert.equal(c.readBytes(1, got, 1, 5), 5);
  assert.deepEqual([...got], [0, 11, 12, 13, 14, 15]);
  assert.equal(c.readBytes(5, got, 0, 10), 2, "stops at the end of the readable part");
  const src = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(c.writeBytes(1, src, 0, 8), 6, "stops at the end of the writable part");
  assert.deepEqual([...mem.read(w1.addr, 2)], [0xee, 1]);
  assert.deepEqual([...mem.read(w2.addr, 5)], [2, 3, 4, 5, 6]);
  // Large copies take the subarray path.
  const big = alloc.space(100);
  const bigSrc = Uint8Array.from({ length: 100 }, (_, i) => i);
  dq.add([], [big]);
  const c2 = vq.pop();
  assert.ok(c2 !== null);
  assert.equal(c2.writeBytes(0, bigSrc, 0, 100), 100);
  assert.deepEqual(mem.read(big.addr, 100), bigSrc);
});

test("push writes the used element and index the driver reads", () => {
  const { dq, vq, alloc } = rig(4);
  const heads = [dq.add([alloc.data([1])], []), dq.add([], [alloc.space(8)])];
  const c1 = vq.pop();
  assert.ok(c1 !== null);
  vq.push(c1.head, 0);
  const c2 = vq.pop();
  assert.ok(c2 !== null);
  vq.push(c2.head, 8);
  assert.equal(dq.usedIdx(), 2);
  assert.deepEqual(dq.takeUsed(), [
    { id: heads[0], len: 0 },
    { id: heads[1], len: 8 },
  ]);
});

test("an indirect chain yields the same segments as a direct one", () => {
  const { dq, vq, alloc, mem, faults } = rig();
  const r = alloc.data([1, 2, 3, 4]);
  const w = alloc.space(9);
  const head = dq.add([r], [w], { indirect: true });
  const c = vq.pop();
  assert.ok(c !== null);
  assert.equal(c.head, head);
  assert.equal(c.readable, 1);
  assert.deepEqual(
    [0, 1].map((i) => [c.offset[i], c.length[i]]),
    [[mem.off(r.addr), 4], [mem.off(w.addr), 9]],
  );
  assert.deepEqual(faults, []);
});

test("direct descriptors followed by an indirect one form one chain (spec 2.7.5.3.2)", () => {
  const { dq, vq, alloc, mem, faults } = rig();
  const r = alloc.data([7, 7]);
  const w1 = alloc.space(3);
  const w2 = alloc.space(4);
  const table = alloc.alloc(32);
  dq.writeDesc(table, 0, w1.addr, w1.len, DESC_F_WRITE | DESC_F_NEXT, 1);
  dq.writeDesc(table, 1, w2.addr, w2.len, DESC_F_WRITE, 0);
  dq.writeDesc(dq.desc, 0, r.addr, r.len, DESC_F_NEXT, 5);
  // WRITE on the descriptor that points at the table must be ignored.
  dq.writeDesc(dq.desc, 5, table, 32, DESC_F_INDIRECT | DESC_F_WRITE, 0);
  dq.offer(0);
  assert.deepEqual(segments(vq), [
    { off: mem.off(r.addr), len: 2 },
    { off: mem.off(w1.addr), len: 3 },
    { off: mem.off(w2.addr), len: 4 },
  ]);
  assert.deepEqual(faults, []);
});

test("a chain as long as the queue and an indirect table of the maximum length are accepted", () => {
  const size = 8;
  const { dq, vq, alloc, faults } = rig(size);
  const bufs: Buf[] = [];
  for (let i = 0; i < size; i++) bufs.push(alloc.data([i]));
  dq.add(bufs, []);
  const c = vq.pop();
  assert.ok(c !== null);
  assert.equal(c.count, size);
  vq.push(c.head, 0);
  dq.takeUsed();
  const many: Buf[] = [];
  const one = alloc.space(1);
  for (let i = 0; i < MAX_INDIRECT_DESCRIPTORS; i++) many.push(one);
  dq.add([], many, { indirect: true });
  const c2 = vq.pop();
  assert.ok(c2 !== null);
  assert.equal(c2.count, MAX_INDIRECT_DESCRIPTORS);
  assert.equal(c2.writableBytes, MAX_INDIRECT_DESCRIPTORS);
  assert.deepEqual(faults, []);
});

/** Sets up one hostile chain with `build`, pops, and expects a fault naming `why`. */
function expectFault(
  why: RegExp,
  build: (r: Rig) => void,
  opts: { eventIdx?: boolean; indirect?: boolean } = {},
): void {
  const r = rig(8, opts);
  build(r);
  assert.doesNotThrow(() => assert.equal(r.vq.pop(), null));
  assert.equal(r.faults.length, 1, `expected one fault, got ${JSON.stringify(r.faults)}`);
  assert.match(r.faults[0], why);
  assert.equal(r.vq.running, false, "a faulted queue stops");
  assert.equal(r.vq.pop(), null);
  assert.equal(r.faults.length, 1, "no further faults once stopped");
}

test("descriptor loops are detected", () => {
  expectFault(/loop/, ({ dq, alloc }) => {
    const b = alloc.data([1]);
    dq.writeDesc(dq.desc, 0, b.addr, 1, DESC_F_NEXT, 1);
    dq.writeDesc(dq.desc, 1, b.addr, 1, DESC_F_NEXT, 0);
    dq.offer(0);
  });
  expectFault(/loop/, ({ dq, alloc }) => {
    const b = alloc.data([1]);
    dq.writeDesc(dq.desc, 3, b.addr, 1, DESC_F_NEXT, 3);
    dq.offer(3);
  });
});

test("loops inside an indirect table are detected", () => {
  expectFault(/loop/, ({ dq, alloc }) => {
    const b = alloc.space(4);
    const table = alloc.alloc(48);
    dq.writeDesc(table, 0, b.addr, 4, DESC_F_WRITE | DESC_F_NEXT, 1);
    dq.writeDesc(table, 1, b.addr, 4, DESC_F_WRITE | DESC_F_NEXT, 2);
    dq.writeDesc(table, 2, b.addr, 4, DESC_F_WRITE | DESC_F_NEXT, 1);
    dq.writeDesc(dq.desc, 0, table, 48, DESC_F_INDIRECT, 0);
    dq.offer(0);
  });
});

test("invalid indirect descriptors are rejected", () => {
  const withTable = (len: number, flags: number) => ({ dq, alloc }: Rig) => {
    const b = alloc.space(4);
    const table = alloc.alloc(64);
    dq.writeDesc(table, 0, b.addr, 4, DESC_F_WRITE, 0);
    dq.writeDesc(dq.desc, 0, table, len, flags, 1);
    dq.offer(0);
  };
  expectFault(/without VIRTIO_F_INDIRECT_DESC/, withTable(16, DESC_F_INDIRECT), { indirect: false });
  expectFault(/length 24/, withTable(24, DESC_F_INDIRECT));
  expectFault(/length 0/, withTable(0, DESC_F_INDIRECT));
  expectFault(/length/, withTable((MAX_INDIRECT_DESCRIPTORS + 1) * 16, DESC_F_INDIRECT));
  expectFault(/NEXT/, withTable(16, DESC_F_INDIRECT | DESC_F_NEXT));
  expectFault(/nested/, ({ dq, alloc }) => {
    const inner = alloc.alloc(16);
    const outer = alloc.alloc(16);
    dq.writeDesc(inner, 0, alloc.space(4).addr, 4, DESC_F_WRITE, 0);
    dq.writeDesc(outer, 0, inner, 16, DESC_F_INDIRECT, 0);
    dq.writeDesc(dq.desc, 0, outer, 16, DESC_F_INDIRECT, 0);
    dq.offer(0);
  });
  expectFault(/outside guest RAM/, ({ dq, mem }) => {
    dq.writeDesc(dq.desc, 0, RAM_BASE + mem.ramSize - 16, 32, DESC_F_INDIRECT, 0);
    dq.offer(0);
  });
});

test("buffers outside guest RAM are rejected, wherever they point", () => {
  const at = (addr: number, len: number) => ({ dq }: Rig) => {
    dq.writeDesc(dq.desc, 0, addr, len, DESC_F_WRITE, 0);
    dq.offer(0);
  };
  const end = RAM_BASE + (1 << 20);
  expectFault(/outside guest RAM/, at(RAM_BASE - 1, 2));
  expectFault(/outside guest RAM/, at(0, 16));
  expectFault(/outside guest RAM/, at(end - 4, 5));
  expectFault(/outside guest RAM/, at(end, 1));
  expectFault(/outside guest RAM/, at(RAM_BASE, 0xffffffff));
  expectFault(/outside guest RAM/, ({ dq, mem }) => {
    // A 64-bit address whose low half is inside RAM.
    dq.writeDesc(dq.desc, 0, RAM_BASE, 16, 0, 0);
    mem.setU32(dq.desc + 4, 0xffffffff);
    dq.offer(0);
  });
  expectFault(/outside guest RAM/, ({ dq, mem }) => {
    dq.writeDesc(dq.desc, 0, RAM_BASE, 16, 0, 0);
    mem.setU32(dq.desc + 4, 1);
    dq.offer(0);
  });
});

test("bad indices and orderings are rejected", () => {
  expectFault(/head 8/, ({ dq }) => dq.offer(8));
  expectFault(/head 65535/, ({ dq }) => dq.offer(0xffff));
  expectFault(/next index 9/, ({ dq, alloc }) => {
    dq.writeDesc(dq.desc, 0, alloc.data([1]).addr, 1, DESC_F_NEXT, 9);
    dq.offer(0);
  });
  expectFault(/jumped/, ({ dq, mem }) => mem.setU16(dq.avail + 2, 9));
  expectFault(/jumped/, ({ dq, mem }) => mem.setU16(dq.avail + 2, 0xffff));
  expectFault(/readable buffer after a writable/, ({ dq, alloc }) => {
    dq.writeDesc(dq.desc, 0, alloc.space(4).addr, 4, DESC_F_WRITE | DESC_F_NEXT, 1);
    dq.writeDesc(dq.desc, 1, alloc.data([1]).addr, 1, 0, 0);
    dq.offer(0);
  });
});

test("chains before a bad one are still delivered", () => {
  const { dq, vq, alloc, faults } = rig(8);
  dq.add([alloc.data([1])], []);
  dq.offer(200);
  assert.ok(vq.pop() !== null);
  assert.deepEqual(faults, []);
  assert.equal(vq.pop(), null);
  assert.equal(faults.length, 1);
});

test("enable checks the ring layout", () => {
  const mem = new TestMemory(1 << 16);
  const make = (size: number, desc: number, avail: number, used: number, maxSize = 16) => {
    const vq = new Virtqueue(mem.bus, maxSize, () => {});
    vq.size = size;
    vq.descLo = desc;
    vq.driverLo = avail;
    vq.deviceLo = used;
    return vq;
  };
  const ok = (size = 16) => make(size, RAM_BASE, RAM_BASE + 0x1000, RAM_BASE + 0x2000);
  const good = ok();
  assert.equal(good.ready, false);
  assert.equal(good.enable(), null);
  assert.equal(good.ready, true);
  const bad = ok(12);
  assert.match(bad.enable() ?? "", /power of two/);
  assert.equal(bad.ready, false);
  assert.match(ok(0).enable() ?? "", /power of two/);
  assert.match(ok(32).enable() ?? "", /power of two up to 16/);
  assert.match(make(16, RAM_BASE + 8, RAM_BASE + 0x1000, RAM_BASE + 0x2000).enable() ?? "", /descriptor table/);
  assert.match(make(16, RAM_BASE, RAM_BASE + 0x1001, RAM_BASE + 0x2000).enable() ?? "", /available ring/);
  assert.match(make(16, RAM_BASE, RAM_BASE + 0x1000, RAM_BASE + 0x2002).enable() ?? "", /used ring/);
  // The used ring's last bytes (avail_event) just past the end of RAM.
  const usedTooHigh = RAM_BASE + (1 << 16) - (6 + 8 * 16) + 2;
  assert.match(make(16, RAM_BASE, RAM_BASE + 0x1000, usedTooHigh).enable() ?? "", /outside guest RAM/);
  assert.equal(make(16, RAM_BASE, RAM_BASE + 0x1000, usedTooHigh - 4).enable(), null);
  assert.match(make(16, 0x1000, RAM_BASE + 0x1000, RAM_BASE + 0x2000).enable() ?? "", /outside guest RAM/);
  const high = make(16, RAM_BASE, RAM_BASE + 0x1000, RAM_BASE + 0x2000);
  high.descHi = 1;
  assert.match(high.enable() ?? "", /outside guest RAM/);
  const huge = make(16, RAM_BASE, RAM_BASE + 0x1000, RAM_BASE + 0x2000);
  huge.deviceHi = 0xffffffff;
  assert.match(huge.enable() ?? "", /used ring/);
  assert.throws(() => new Virtqueue(mem.bus, 12, () => {}), /power of two/);
});

test("avail_event follows the chains taken when EVENT_IDX is negotiated", () => {
  const { dq, vq, alloc } = rig(8, { eventIdx: true });
  assert.equal(dq.availEvent(), 0);
  dq.add([alloc.data([1])], []);
  dq.add([alloc.data([2])], []);
  vq.pop();
  assert.equal(dq.availEvent(), 1);
  vq.pop();
  assert.equal(dq.availEvent(), 2);
});

test("avail_event is left alone without EVENT_IDX", () => {
  const { dq, vq, alloc } = rig(8, { eventIdx: false });
  dq.add([alloc.data([1])], []);
  vq.pop();
  assert.equal(dq.availEvent(), 0);
});

test("used_event decides interrupts with EVENT_IDX", () => {
  const { dq, vq, alloc } = rig(8, { eventIdx: true });
  const cycle = (n: number) => {
    for (let i = 0; i < n; i++) {
      dq.add([alloc.data([i])], []);
      const c = vq.pop();
      assert.ok(c !== null);
      vq.push(c.head, 0);
      dq.takeUsed();
    }
  };
  cycle(1);
  assert.equal(vq.needsInterrupt(), true, "the first check always interrupts");
  dq.setUsedEvent(4); // interrupt once used idx passes 4, i.e. reaches 5
  cycle(2); // used idx 3
  assert.equal(vq.needsInterrupt(), false);
  cycle(1); // 4
  assert.equal(vq.needsInterrupt(), false);
  cycle(1); // 5: the entry at index 4 was written
  assert.equal(vq.needsInterrupt(), true);
  cycle(1); // 6
  assert.equal(vq.needsInterrupt(), false, "used_event 4 already passed");
  dq.setUsedEvent(7);
  cycle(3); // 9: entries 6, 7 and 8 in one batch, 7 among them
  assert.equal(vq.needsInterrupt(), true);
  assert.equal(vq.needsInterrupt(), false, "nothing new since the last check");
});

test("the NO_INTERRUPT flag decides interrupts without EVENT_IDX", () => {
  const { dq, vq, alloc } = rig(8);
  dq.add([alloc.data([1])], []);
  const c = vq.pop();
  assert.ok(c !== null);
  vq.push(c.head, 0);
  assert.equal(vq.needsInterrupt(), true);
  dq.setAvailFlags(1);
  assert.equal(vq.needsInterrupt(), false);
  dq.setAvailFlags(0);
  assert.equal(vq.needsInterrupt(), true);
});

test("indices wrap around at 65536", () => {
  const { dq, vq, alloc, faults } = rig(4, { eventIdx: true });
  const buf = alloc.data([42]);
  for (let i = 0; i < 70000; i++) {
    const head = dq.add([buf], []);
    const c = vq.pop();
    assert.ok(c !== null && c.head === head, `round ${i}`);
    vq.push(c.head, i);
    const used = dq.takeUsed();
    assert.equal(used.length, 1);
    assert.equal(used[0].len, i);
  }
  assert.equal(vq.lastAvail, 70000 & 0xffff);
  assert.equal(dq.usedIdx(), 70000 & 0xffff);
  assert.deepEqual(faults, []);
});

test("save and restore carry the queue position", () => {
  const a = rig(8, { eventIdx: true });
  a.dq.add([a.alloc.data([1])], []);
  a.dq.add([a.alloc.data([2])], []);
  const c = a.vq.pop();
  assert.ok(c !== null);
  a.vq.push(c.head, 0);
  const state = structuredClone(a.vq.save());
  const vq2 = new Virtqueue(a.mem.bus, 8, () => {});
  assert.equal(vq2.restore(state), null);
  vq2.running = true;
  const c2 = vq2.pop();
  assert.ok(c2 !== null);
  assert.equal(c2.head, 1, "continues with the second chain");
  vq2.push(c2.head, 0);
  assert.equal(a.dq.usedIdx(), 2);
  assert.equal(vq2.pop(), null);
  const broken = { ...state, desc: [7, 0] as [number, number] };
  assert.match(new Virtqueue(a.mem.bus, 8, () => {}).restore(broken) ?? "", /descriptor table/);
});
