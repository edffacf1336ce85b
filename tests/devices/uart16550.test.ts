import { test } from "node:test";
import assert from "node:assert/strict";
import { Uart16550, UART_IRQ } from "../../src/devices/uart16550.ts";
import { FakeIrqLines } from "./fakes.ts";

const RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

function uart() {
  const lines = new FakeIrqLines();
  const out: number[] = [];
  const dev = new Uart16550(lines, (b) => out.push(b));
  return { dev, lines, out, irq: () => lines.level(UART_IRQ) };
}

/** OpenSBI's uart8250_init for a 3686400 Hz clock at 115200 baud. */
function opensbiInit(dev: Uart16550): void {
  dev.write(IER, 1, 0);
  dev.write(LCR, 1, 0x80);
  dev.write(DLL, 1, 2);
  dev.write(DLM, 1, 0);
  dev.write(LCR, 1, 0x03);
  dev.write(FCR, 1, 0x01);
  dev.write(MCR, 1, 0x00);
  dev.read(LSR, 1);
  dev.read(RBR, 1);
  dev.write(SCR, 1, 0);
}

test("OpenSBI-style init, putc and getc", () => {
  const { dev, out, irq } = uart();
  opensbiInit(dev);
  assert.deepEqual(out, [], "divisor writes are not output");
  for (const ch of Buffer.from("hi\n")) {
    assert.ok(dev.read(LSR, 1) & 0x20, "THR empty");
    dev.write(THR, 1, ch);
  }
  assert.equal(Buffer.from(out).toString(), "hi\n");
  assert.equal(dev.read(LSR, 1) & 1, 0, "no data yet");
  assert.equal(dev.receive(0x61), true);
  assert.equal(dev.read(LSR, 1), 0x61, "DR | THRE | TEMT");
  assert.equal(dev.read(RBR, 1), 0x61);
  assert.equal(dev.read(LSR, 1), 0x60);
  assert.equal(irq(), false, "no interrupts enabled");
});

test("DLAB switches offsets 0 and 1 to the divisor latches", () => {
  const { dev, out } = uart();
  dev.write(IER, 1, 0x05);
  dev.write(LCR, 1, 0x83);
  dev.write(DLL, 1, 0x0c);
  dev.write(DLM, 1, 0x34);
  assert.equal(dev.read(DLL, 1), 0x0c);
  assert.equal(dev.read(DLM, 1), 0x34);
  dev.write(LCR, 1, 0x03);
  assert.equal(dev.read(IER, 1), 0x05);
  assert.equal(dev.read(LCR, 1), 0x03);
  assert.deepEqual(out, []);
});

test("enabling the THRE interrupt raises it; reading IIR or writing THR clears it", () => {
  const { dev, irq } = uart();
  dev.write(FCR, 1, 0x01);
  assert.equal(dev.read(IIR, 1), 0xc1, "FIFO enabled, nothing pending");
  // Linux's startup check: IER=THRI, then LSR and IIR.
  dev.write(IER, 1, 0x02);
  assert.equal(irq(), true);
  assert.equal(dev.read(LSR, 1) & 0x40, 0x40);
  assert.equal(dev.read(IIR, 1), 0xc2);
  assert.equal(irq(), false, "reading the THRE id acknowledges it");
  assert.equal(dev.read(IIR, 1), 0xc1);
  dev.write(THR, 1, 0x41);
  assert.equal(irq(), true, "the byte left, THR is empty again");
  dev.write(IER, 1, 0x00);
  assert.equal(irq(), false);
  assert.equal(dev.read(IIR, 1), 0xc1);
});

test("re-writing IER with THRI already set does not re-raise THRE", () => {
  const { dev, irq } = uart();
  dev.write(IER, 1, 0x02);
  dev.read(IIR, 1);
  dev.write(IER, 1, 0x03);
  assert.equal(irq(), false);
});

test("received data interrupts: timeout id below the trigger, data id at it", () => {
  const { dev, irq } = uart();
  dev.write(FCR, 1, 0x41); // FIFO on, trigger 4
  dev.write(IER, 1, 0x01);
  assert.equal(irq(), false);
  dev.receive(1);
  assert.equal(irq(), true);
  assert.equal(dev.read(IIR, 1), 0xcc);
  for (const b of [2, 3, 4]) dev.receive(b);
  assert.equal(dev.read(IIR, 1), 0xc4);
  assert.deepEqual([1, 2, 3, 4].map(() => dev.read(RBR, 1)), [1, 2, 3, 4]);
  assert.equal(irq(), false);
  assert.equal(dev.read(IIR, 1), 0xc1);
});

test("without the FIFO the receiver holds one byte and reports the data id", () => {
  const { dev } = uart();
  dev.write(IER, 1, 0x01);
  assert.equal(dev.rxSpace, 1);
  assert.equal(dev.receive(7), true);
  assert.equal(dev.receive(8), false);
  assert.equal(dev.read(IIR, 1), 0x04);
  assert.equal(dev.read(RBR, 1), 7);
  assert.equal(dev.read(RBR, 1), 0, "empty reads 0");
});

test("receive data outranks THRE in IIR", () => {
  const { dev } = uart();
  dev.write(FCR, 1, 0x01);
  dev.write(IER, 1, 0x03);
  dev.receive(9);
  assert.equal(dev.read(IIR, 1), 0xc4, "trigger level 1: data available");
  dev.read(RBR, 1);
  assert.equal(dev.read(IIR, 1), 0xc2);
});

test("the FIFO holds 16 bytes; FCR can clear it; toggling the FIFO clears it", () => {
  const { dev } = uart();
  dev.write(FCR, 1, 0x01);
  for (let i = 0; i < 16; i++) assert.equal(dev.receive(i), true);
  assert.equal(dev.receive(16), false);
  assert.equal(dev.rxSpace, 0);
  assert.equal(dev.read(RBR, 1), 0);
  assert.equal(dev.receive(16), true, "room again");
  dev.write(FCR, 1, 0x03);
  assert.equal(dev.read(LSR, 1) & 1, 0);
  dev.receive(5);
  dev.write(FCR, 1, 0x00);
  assert.equal(dev.read(LSR, 1) & 1, 0);
});

test("loopback sends THR to the receiver and MCR to MSR", () => {
  const { dev, out } = uart();
  dev.write(FCR, 1, 0x01);
  dev.write(MCR, 1, 0x10);
  assert.equal(dev.read(MSR, 1), 0x0b, "CTS, DSR, DCD dropped: their deltas");
  dev.write(THR, 1, 0x5a);
  assert.deepEqual(out, []);
  assert.equal(dev.read(RBR, 1), 0x5a);
  dev.write(MCR, 1, 0x1f);
  assert.equal(dev.read(MSR, 1), 0xfb, "all four lines on; DCTS, DDSR, DDCD (not TERI)");
  assert.equal(dev.read(MSR, 1), 0xf0, "deltas clear on read");
  dev.write(MCR, 1, 0x10);
  assert.equal(dev.read(MSR, 1), 0x0f, "TERI on RI falling, DCD/DSR/CTS deltas");
  dev.write(MCR, 1, 0x00);
  assert.equal(dev.read(MSR, 1) & 0xf0, 0xb0, "out of loopback: DCD, DSR, CTS");
});

test("modem status changes interrupt when MSI is enabled", () => {
  const { dev, irq } = uart();
  dev.write(MCR, 1, 0x10);
  dev.read(MSR, 1);
  dev.write(IER, 1, 0x08);
  assert.equal(irq(), false);
  dev.write(MCR, 1, 0x12);
  assert.equal(irq(), true);
  assert.equal(dev.read(IIR, 1), 0x00);
  dev.read(MSR, 1);
  assert.equal(irq(), false);
});

test("no offset or width throws; unknown registers read 0", () => {
  const { dev } = uart();
  for (let off = 0; off < 0x100; off++) {
    for (const size of [1, 2, 4] as const) {
      dev.write(off, size, 0xffffffff);
      dev.read(off, size);
    }
  }
  assert.equal(dev.read(8, 1), 0);
  assert.equal(dev.read(0xff, 4), 0);
});

test("save/restore keeps registers, FIFO contents and the interrupt", () => {
  const a = uart();
  a.dev.write(FCR, 1, 0x01);
  a.dev.write(IER, 1, 0x01);
  a.dev.write(SCR, 1, 0x77);
  a.dev.receive(1);
  a.dev.receive(2);
  a.dev.read(RBR, 1);
  a.dev.receive(3);
  const state = structuredClone(a.dev.save());
  const b = uart();
  b.dev.restore(state);
  assert.equal(b.irq(), true);
  assert.equal(b.dev.read(SCR, 1), 0x77);
  assert.equal(b.dev.read(RBR, 1), 2);
  assert.equal(b.dev.read(RBR, 1), 3);
  assert.equal(b.dev.rxSpace, 16);
  assert.throws(() => b.dev.restore({ ...state, rx: new Array(17).fill(0) }), /uart: cannot restore/);
});
