import { test } from "node:test";
import assert from "node:assert/strict";
import { GoldfishRtc, RTC_IRQ, hostWallNs } from "../../src/devices/goldfish-rtc.ts";
import { FakeIrqLines } from "./fakes.ts";

const TIME_LOW = 0x00, TIME_HIGH = 0x04, ALARM_LOW = 0x08, ALARM_HIGH = 0x0c;
const IRQ_ENABLED = 0x10, CLEAR_ALARM = 0x14, ALARM_STATUS = 0x18, CLEAR_INTERRUPT = 0x1c;

function rtc(start = 0x1_0000_0010n) {
  const clock = { ns: start };
  const lines = new FakeIrqLines();
  const dev = new GoldfishRtc(lines, () => clock.ns);
  return { dev, clock, irq: () => lines.level(RTC_IRQ) };
}

function readTime(dev: GoldfishRtc): bigint {
  const lo = BigInt(dev.read(TIME_LOW, 4));
  return (BigInt(dev.read(TIME_HIGH, 4)) << 32n) | lo;
}

test("TIME_LOW latches TIME_HIGH, as Linux's read_time expects", () => {
  const { dev, clock } = rtc(0x1_ffff_fff0n);
  assert.equal(dev.read(TIME_LOW, 4), 0xfffffff0);
  clock.ns = 0x2_0000_0005n;
  assert.equal(dev.read(TIME_HIGH, 4), 1, "still the latched half");
  assert.equal(readTime(dev), 0x2_0000_0005n);
});

test("the host wall clock source is in ns since the epoch", () => {
  const ns = hostWallNs()();
  const ms = BigInt(Date.now());
  assert.ok(ns / 1_000_000n <= ms && ns / 1_000_000n >= ms - 1000n);
});

test("writing the time sets an offset that keeps counting", () => {
  const { dev, clock } = rtc(1000n);
  dev.write(TIME_HIGH, 4, 0x12);
  dev.write(TIME_LOW, 4, 0x34);
  assert.equal(readTime(dev), 0x12_0000_0034n);
  clock.ns += 500n;
  assert.equal(readTime(dev), 0x12_0000_0034n + 500n);
});

test("an alarm fires at its time, interrupts only when enabled, and clears", () => {
  const { dev, clock, irq } = rtc(1000n);
  dev.write(IRQ_ENABLED, 4, 1);
  dev.write(ALARM_HIGH, 4, 0);
  dev.write(ALARM_LOW, 4, 3000);
  assert.equal(dev.read(ALARM_STATUS, 4), 1);
  assert.equal(dev.read(ALARM_LOW, 4), 3000);
  assert.equal(dev.pollTimers(0), 20, "2000 ns ahead = 20 ticks of 100 ns");
  clock.ns = 2999n;
  dev.pollTimers(0);
  assert.equal(irq(), false);
  clock.ns = 3000n;
  assert.equal(dev.pollTimers(0), Infinity);
  assert.equal(irq(), true);
  assert.equal(dev.read(ALARM_STATUS, 4), 0);
  dev.write(CLEAR_INTERRUPT, 4, 1);
  assert.equal(irq(), false);
});

test("an alarm in the past fires on the write; disabled IRQs hold it pending", () => {
  const { dev, irq } = rtc(5000n);
  dev.write(ALARM_LOW, 4, 10);
  assert.equal(irq(), false);
  dev.write(IRQ_ENABLED, 4, 1);
  assert.equal(irq(), true);
  assert.equal(dev.read(IRQ_ENABLED, 4), 1);
});

test("CLEAR_ALARM disarms", () => {
  const { dev, clock, irq } = rtc(0n);
  dev.write(IRQ_ENABLED, 4, 1);
  dev.write(ALARM_LOW, 4, 100);
  dev.write(CLEAR_ALARM, 4, 1);
  clock.ns = 200n;
  assert.equal(dev.pollTimers(0), Infinity);
  assert.equal(irq(), false);
});

test("save/restore keeps the offset and alarm; bad states are refused", () => {
  const a = rtc(100n);
  a.dev.write(TIME_LOW, 4, 7100);
  a.dev.write(IRQ_ENABLED, 4, 1);
  a.dev.write(ALARM_LOW, 4, 9000);
  const state = structuredClone(a.dev.save());
  const b = rtc(100n);
  b.dev.restore(state);
  assert.equal(readTime(b.dev), 7100n);
  b.clock.ns = 100n + 1900n;
  b.dev.pollTimers(0);
  assert.equal(b.irq(), true);
  assert.throws(() => b.dev.restore({ ...state, offset: "x" }), /rtc: cannot restore/);
  assert.throws(() => b.dev.restore({ ...state, v: 9 } as never), /rtc: cannot restore state version 9/);
});

test("unknown offsets read 0 and ignore writes; registers take 32-bit writes only", () => {
  const { dev } = rtc();
  dev.write(IRQ_ENABLED, 2, 1);
  dev.write(IRQ_ENABLED, 1, 1);
  assert.equal(dev.read(IRQ_ENABLED, 4), 0);
  dev.write(IRQ_ENABLED, 4, 1);
  assert.equal(dev.read(IRQ_ENABLED, 1), 1);
  for (let off = 0x20; off < 0x1000; off += 4) {
    dev.write(off, 4, 0xffffffff);
    assert.equal(dev.read(off, 4), 0);
  }
});

test("a reset disarms the alarm and masks the interrupt but keeps the time", () => {
  const { dev, clock, irq } = rtc(1000n);
  dev.write(TIME_LOW, 4, 50_000);
  dev.write(IRQ_ENABLED, 4, 1);
  dev.write(ALARM_LOW, 4, 60_000);
  dev.reset();
  assert.equal(dev.read(ALARM_STATUS, 4), 0);
  assert.equal(dev.read(IRQ_ENABLED, 4), 0);
  clock.ns += 20_000n;
  assert.equal(dev.pollTimers(0), Infinity);
  assert.equal(irq(), false);
  assert.equal(readTime(dev), 70_000n);
});
