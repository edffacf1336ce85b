/**
 * Goldfish RTC ("google,goldfish-rtc" at 0x101000, PLIC source 11): a
 * nanosecond counter of wall-clock time with one alarm.
 *
 *   0x00 TIME_LOW         read latches the high half into TIME_HIGH
 *   0x04 TIME_HIGH        writes to either half set the time
 *   0x08 ALARM_LOW        a write arms the alarm (or fires it if past)
 *   0x0c ALARM_HIGH
 *   0x10 IRQ_ENABLED      bit 0
 *   0x14 CLEAR_ALARM      write: disarm
 *   0x18 ALARM_STATUS     1 while armed
 *   0x1c CLEAR_INTERRUPT  write: drop the pending alarm interrupt
 */
import type { AccessSize, InterruptSink, MmioDevice, Saveable } from "../machine/device.ts";
import { badState, type TimerSource } from "../machine/timer.ts";
import { TIMEBASE_HZ } from "../machine/clock.ts";
import { monotonicNs } from "../machine/host-time.ts";
import { narrowRead } from "./regs.ts";

export const RTC_BASE = 0x101000;
export const RTC_SIZE = 0x1000;
export const RTC_IRQ = 11;

const TIME_LOW = 0x00;
const TIME_HIGH = 0x04;
const ALARM_LOW = 0x08;
const ALARM_HIGH = 0x0c;
const IRQ_ENABLED = 0x10;
const CLEAR_ALARM = 0x14;
const ALARM_STATUS = 0x18;
const CLEAR_INTERRUPT = 0x1c;

const NS_PER_TICK = BigInt(1e9 / TIMEBASE_HZ);
const LOW32 = 0xffffffffn;
const U64 = (1n << 64n) - 1n;

/** Host wall-clock time in ns since the Unix epoch, with monotonic steps. */
export function hostWallNs(): () => bigint {
  const originNs = BigInt(Date.now()) * 1_000_000n;
  const originHr = monotonicNs();
  return () => originNs + (monotonicNs() - originHr);
}

export interface GoldfishRtcState {
  v: 1;
  /** Guest time minus source time, ns, as a decimal string. */
  offset: string;
  alarm: string;
  alarmArmed: boolean;
  irqEnabled: boolean;
  irqPending: boolean;
  timeHigh: number;
}

export class GoldfishRtc implements MmioDevice, TimerSource, Saveable<GoldfishRtcState> {
  readonly name = "rtc";
  readonly base = RTC_BASE;
  readonly size = RTC_SIZE;
  private offset = 0n;
  private alarm = 0n;
  private alarmArmed = false;
  private irqEnabled = false;
  private irqPending = false;
  private timeHigh = 0;
  private irqLevel = false;

  /** `timeNs` is the time source (host wall clock, or virtual time in deterministic runs). */
  constructor(
    private readonly irq: InterruptSink,
    private readonly timeNs: () => bigint,
  ) {}

  /** Disarms and masks the alarm; the time itself keeps running, as a real RTC's. */
  reset(): void {
    this.alarm = 0n;
    this.alarmArmed = false;
    this.irqEnabled = false;
    this.irqPending = false;
    this.timeHigh = 0;
    this.updateIrq();
  }

  read(offset: number, size: AccessSize): number {
    return narrowRead(this.readWord(offset & ~3), offset, size);
  }

  /** Registers are 32-bit only (as on QEMU); narrower writes are ignored. */
  write(offset: number, size: AccessSize, value: number): void {
    if (size !== 4 || (offset & 3) !== 0) return;
    this.writeWord(offset, value);
    this.updateIrq();
  }

  pollTimers(now: number): number {
    this.checkAlarm();
    this.updateIrq();
    if (!this.alarmArmed) return Infinity;
    const ahead = this.alarm - this.now();
    return now + Number((ahead + NS_PER_TICK - 1n) / NS_PER_TICK);
  }

  save(): GoldfishRtcState {
    return {
      v: 1,
      offset: this.offset.toString(),
      alarm: this.alarm.toString(),
      alarmArmed: this.alarmArmed,
      irqEnabled: this.irqEnabled,
      irqPending: this.irqPending,
      timeHigh: this.timeHigh,
    };
  }

  restore(state: GoldfishRtcState): void {
    let offset: bigint;
    let alarm: bigint;
    try {
      offset = BigInt(state.offset);
      alarm = BigInt(state.alarm);
    } catch {
      throw badState(this.name, state);
    }
    if (state.v !== 1) throw badState(this.name, state);
    this.offset = BigInt.asIntN(64, offset);
    this.alarm = alarm & U64;
    this.alarmArmed = state.alarmArmed === true;
    this.irqEnabled = state.irqEnabled === true;
    this.irqPending = state.irqPending === true;
    this.timeHigh = state.timeHigh >>> 0;
    this.irqLevel = false;
    this.irq.setIrq(RTC_IRQ, false);
    this.updateIrq();
  }

  private readWord(offset: number): number {
    switch (offset) {
      case TIME_LOW: {
        const t = this.now();
        this.timeHigh = Number(t >> 32n);
        return Number(t & LOW32);
      }
      case TIME_HIGH:
        return this.timeHigh;
      case ALARM_LOW:
        return Number(this.alarm & LOW32);
      case ALARM_HIGH:
        return Number(this.alarm >> 32n);
      case IRQ_ENABLED:
        return this.irqEnabled ? 1 : 0;
      case ALARM_STATUS:
        return this.alarmArmed ? 1 : 0;
      default:
        return 0;
    }
  }

  private writeWord(offset: number, value: number): void {
    const v = BigInt(value >>> 0);
    switch (offset) {
      case TIME_LOW:
      case TIME_HIGH: {
        const t = this.now();
        const set = offset === TIME_LOW ? (t & ~LOW32) | v : (t & LOW32) | (v << 32n);
        this.offset += set - t;
        break;
      }
      case ALARM_LOW:
        this.alarm = (this.alarm & ~LOW32) | v;
        this.alarmArmed = true;
        this.checkAlarm();
        break;
      case ALARM_HIGH:
        this.alarm = (this.alarm & LOW32) | (v << 32n);
        break;
      case IRQ_ENABLED:
        this.irqEnabled = (value & 1) !== 0;
        break;
      case CLEAR_ALARM:
        this.alarmArmed = false;
        break;
      case CLEAR_INTERRUPT:
        this.irqPending = false;
        break;
    }
  }

  /** The guest-visible time: an unsigned 64-bit ns count. */
  private now(): bigint {
    return (this.timeNs() + this.offset) & U64;
  }

  private checkAlarm(): void {
    if (this.alarmArmed && this.alarm <= this.now()) {
      this.alarmArmed = false;
      this.irqPending = true;
    }
  }

  private updateIrq(): void {
    const level = this.irqEnabled && this.irqPending;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.setIrq(RTC_IRQ, level);
    }
  }
}
