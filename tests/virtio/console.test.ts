import { test } from "node:test";
import assert from "node:assert/strict";
import { MmioTransport } from "../../src/devices/virtio/mmio-transport.ts";
import { MAX_PENDING_INPUT, VirtioConsole, type CharStream } from "../../src/devices/virtio/console.ts";
import { GuestAllocator, MockDriver, MockIrq, TestMemory } from "./mock-driver.ts";

class TestStream implements CharStream {
  output: number[] = [];
  receiver: ((data: Uint8Array) => void) | null = null;
  write(data: Uint8Array): void {
    this.output.push(...data);
  }
  onData(receiver: (data: Uint8Array) => void): void {
    this.receiver = receiver;
  }
  type(text: string): void {
    this.receiver?.(new TextEncoder().encode(text));
  }
}

function setup() {
  const mem = new TestMemory(1 << 20);
  const irq = new MockIrq();
  const stream = new TestStream();
  const con = new VirtioConsole({ stream, queueSize: 8 });
  const t = new MmioTransport({ base: 0x10008000, irq: 8, sink: irq, mem: mem.bus, device: con });
  const drv = new MockDriver(mem, t, new GuestAllocator(mem));
  assert.equal(drv.init(2), true);
  assert.equal(drv.reg(0x008), 3, "console device ID");
  return { mem, irq, stream, con, drv, rx: drv.queues[0], tx: drv.queues[1] };
}

test("guest output reaches the stream", () => {
  const r = setup();
  const enc = new TextEncoder();
  r.tx.add([r.drv.alloc.data(enc.encode("hello, ")), r.drv.alloc.data(enc.encode("world\n"))], []);
  r.drv.kick(1);
  assert.equal(new TextDecoder().decode(Uint8Array.from(r.stream.output)), "hello, world\n");
  assert.deepEqual(r.tx.takeUsed(), [{ id: 0, len: 0 }]);
});

test("host input fills receive buffers, waiting for them when there are none", () => {
  const r = setup();
  r.stream.type("ls -l\n");
  assert.equal(r.rx.usedIdx(), 0);
  const a = r.drv.alloc.space(4);
  const b = r.drv.alloc.space(16);
  r.rx.add([], [a]);
  r.rx.add([], [b]);
  r.drv.kick(0);
  assert.deepEqual(r.rx.takeUsed(), [{ id: 0, len: 4 }, { id: 1, len: 2 }]);
  assert.equal(new TextDecoder().decode(r.mem.read(a.addr, 4)), "ls -");
  assert.equal(new TextDecoder().decode(r.mem.read(b.addr, 2)), "l\n");
  r.rx.add([], [r.drv.alloc.space(16)]);
  r.drv.kick(0);
  r.stream.type("x");
  assert.deepEqual(r.rx.takeUsed(), [{ id: 2, len: 1 }], "delivered at once when a buffer is waiting");
});

test("input beyond the pending limit is dropped and counted", () => {
  const r = setup();
  r.stream.receiver?.(new Uint8Array(MAX_PENDING_INPUT + 10));
  assert.equal(r.con.inputDropped, 10);
  const s = structuredClone(r.con.save());
  r.con.reset();
  r.con.restore(s);
  assert.equal((r.con.save() as { pending: Uint8Array }).pending.length, MAX_PENDING_INPUT);
});
