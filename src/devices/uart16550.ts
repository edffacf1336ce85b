/**
 * NS16550A UART ("ns16550a" at 0x10000000, reg-shift 0, 3 686 400 Hz clock,
 * PLIC source 10) — enough of the chip for Linux's 8250 driver and OpenSBI's
 * uart8250 console.
 *
 * Transmission is instantaneous: a byte written to THR goes straight to the
 * host sink (or, in loopback mode, to the receiver), so THR is always empty
 * again by the time the guest looks. Received bytes are pushed in by the host
 * with `receive`, which refuses them while the receive FIFO is full; the
 * host keeps them until there is room (no overruns, no lost keystrokes).
 * Line-speed settings (divisor, LCR) are stored and ignored.
 */
import type { AccessSize, InterruptSink, MmioDevice, Saveable } from "../machine/device.ts";
import { badState } from "../machine/timer.ts";

export const UART_BASE = 0x10000000;
export const UART_SIZE = 0x100;
export const UART_IRQ = 10;
export const UART_CLOCK_HZ = 3686400;
const FIFO_SIZE = 16;

// Register offsets (DLAB = 0 unless noted).
const RBR_THR_DLL = 0;
const IER_DLM = 1;
const IIR_FCR = 2;
const LCR = 3;
const MCR = 4;
const LSR = 5;
const MSR = 6;
const SCR = 7;

const IER_RDI = 0x01;
const IER_THRI = 0x02;
const IER_MSI = 0x08;

const IIR_NO_INT = 0x01;
const IIR_MSI = 0x00;
const IIR_THRI = 0x02;
const IIR_RDI = 0x04;
const IIR_RX_TIMEOUT = 0x0c;
const IIR_FIFO_ENABLED = 0xc0;

const FCR_ENABLE = 0x01;
const FCR_CLEAR_RX = 0x02;

const LCR_DLAB = 0x80;

const MCR_DTR = 0x01;
const MCR_RTS = 0x02;
const MCR_OUT1 = 0x04;
const MCR_OUT2 = 0x08;
const MCR_LOOP = 0x10;

const LSR_DR = 0x01;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;

const MSR_CTS = 0x10;
const MSR_DSR = 0x20;
const MSR_RI = 0x40;
const MSR_DCD = 0x80;
const MSR_TERI = 0x04;

const TRIGGER_LEVELS = [1, 4, 8, 14];

export interface Uart16550State {
  v: 1;
  rx: number[];
  ier: number;
  fcr: number;
  lcr: number;
  mcr: number;
  scr: number;
  dll: number;
  dlm: number;
  thrPending: boolean;
  msrDelta: number;
}

export class Uart16550 implements MmioDevice, Saveable<Uart16550State> {
  readonly name = "uart";
  readonly size = UART_SIZE;
  private readonly rxFifo = new Uint8Array(FIFO_SIZE);
  private rxHead = 0;
  private rxCount = 0;
  private ier = 0;
  private fcr = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  private dll = 0;
  private dlm = 0;
  /** A THR-empty interrupt is owed (cleared by reading it from IIR or writing THR). */
  private thrPending = false;
  /** MSR delta bits (DCTS, DDSR, TERI, DDCD), cleared by reading MSR. */
  private msrDelta = 0;
  private irqLevel = false;

  constructor(
    private readonly irq: InterruptSink,
    private readonly output: (byte: number) => void,
    readonly base = UART_BASE,
    readonly irqNumber = UART_IRQ,
  ) {}

  /** Power-on state; bytes already received are dropped. */
  reset(): void {
    this.rxHead = 0;
    this.rxCount = 0;
    this.ier = 0;
    this.fcr = 0;
    this.lcr = 0;
    this.mcr = 0;
    this.scr = 0;
    this.dll = 0;
    this.dlm = 0;
    this.thrPending = false;
    this.msrDelta = 0;
    this.updateIrq();
  }

  /** Room left in the receiver for `receive`. */
  get rxSpace(): number {
    return this.rxCapacity() - this.rxCount;
  }

  /** Host → guest: queues one received byte; false (byte not taken) when full. */
  receive(byte: number): boolean {
    if (this.rxCount >= this.rxCapacity()) return false;
    this.rxFifo[(this.rxHead + this.rxCount) % FIFO_SIZE] = byte & 0xff;
    this.rxCount++;
    this.updateIrq();
    return true;
  }

  read(offset: number, _size: AccessSize): number {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case RBR_THR_DLL:
        return dlab ? this.dll : this.popRx();
      case IER_DLM:
        return dlab ? this.dlm : this.ier;
      case IIR_FCR: {
        const id = this.interruptId();
        if (id === IIR_THRI) {
          this.thrPending = false;
          this.updateIrq();
        }
        return id | (this.fcr & FCR_ENABLE ? IIR_FIFO_ENABLED : 0);
      }
      case LCR:
        return this.lcr;
      case MCR:
        return this.mcr;
      case LSR:
        return (this.rxCount > 0 ? LSR_DR : 0) | LSR_THRE | LSR_TEMT;
      case MSR: {
        const value = this.modemStatus() | this.msrDelta;
        if (this.msrDelta !== 0) {
          this.msrDelta = 0;
          this.updateIrq();
        }
        return value;
      }
      case SCR:
        return this.scr;
      default:
        return 0;
    }
  }

  write(offset: number, _size: AccessSize, value: number): void {
    const v = value & 0xff;
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case RBR_THR_DLL:
        if (dlab) this.dll = v;
        else this.transmit(v);
        break;
      case IER_DLM:
        if (dlab) {
          this.dlm = v;
        } else {
          // THR is always empty, so enabling its interrupt raises it at once
          // (on the rising edge, as QEMU and Bochs do).
          if (v & ~this.ier & IER_THRI) this.thrPending = true;
          this.ier = v & 0x0f;
        }
        break;
      case IIR_FCR:
        this.writeFcr(v);
        break;
      case LCR:
        this.lcr = v;
        break;
      case MCR: {
        const before = this.modemStatus();
        this.mcr = v & 0x1f;
        this.noteModemChange(before, this.modemStatus());
        break;
      }
      case SCR:
        this.scr = v;
        break;
      default:
        return; // LSR and MSR are read-only
    }
    this.updateIrq();
  }

  save(): Uart16550State {
    const rx: number[] = [];
    for (let i = 0; i < this.rxCount; i++) rx.push(this.rxFifo[(this.rxHead + i) % FIFO_SIZE]);
    return {
      v: 1,
      rx,
      ier: this.ier,
      fcr: this.fcr,
      lcr: this.lcr,
      mcr: this.mcr,
      scr: this.scr,
      dll: this.dll,
      dlm: this.dlm,
      thrPending: this.thrPending,
      msrDelta: this.msrDelta,
    };
  }

  restore(state: Uart16550State): void {
    if (state?.v !== 1 || !Array.isArray(state.rx) || state.rx.length > FIFO_SIZE) {
      throw badState(this.name, state);
    }
    this.rxFifo.set(state.rx);
    this.rxHead = 0;
    this.rxCount = state.rx.length;
    this.ier = state.ier & 0x0f;
    this.fcr = state.fcr & 0xff;
    this.lcr = state.lcr & 0xff;
    this.mcr = state.mcr & 0x1f;
    this.scr = state.scr & 0xff;
    this.dll = state.dll & 0xff;
    this.dlm = state.dlm & 0xff;
    this.thrPending = state.thrPending === true;
    this.msrDelta = state.msrDelta & 0x0f;
    this.irqLevel = false;
    this.irq.setIrq(this.irqNumber, false);
    this.updateIrq();
  }

  private rxCapacity(): number {
    return this.fcr & FCR_ENABLE ? FIFO_SIZE : 1;
  }

  private popRx(): number {
    if (this.rxCount === 0) return 0;
    const byte = this.rxFifo[this.rxHead];
    this.rxHead = (this.rxHead + 1) % FIFO_SIZE;
    this.rxCount--;
    this.updateIrq();
    return byte;
  }

  private transmit(byte: number): void {
    if (this.mcr & MCR_LOOP) {
      if (this.rxCount < this.rxCapacity()) {
        this.rxFifo[(this.rxHead + this.rxCount) % FIFO_SIZE] = byte;
        this.rxCount++;
      }
    } else {
      this.output(byte);
    }
    // The byte has left THR already: the THR-empty interrupt is due again.
    this.thrPending = true;
  }

  private writeFcr(v: number): void {
    if ((v ^ this.fcr) & FCR_ENABLE || v & FCR_CLEAR_RX) {
      this.rxHead = 0;
      this.rxCount = 0;
    }
    // Bits 1-2 (clear FIFOs) self-clear; 3 (DMA mode) and 6-7 (trigger) stay.
    this.fcr = v & 0xc9;
  }

  private modemStatus(): number {
    if (!(this.mcr & MCR_LOOP)) return MSR_DCD | MSR_DSR | MSR_CTS;
    const m = this.mcr;
    return (
      (m & MCR_RTS ? MSR_CTS : 0) |
      (m & MCR_DTR ? MSR_DSR : 0) |
      (m & MCR_OUT1 ? MSR_RI : 0) |
      (m & MCR_OUT2 ? MSR_DCD : 0)
    );
  }

  /** Records MSR delta bits for a change of the modem status lines. */
  private noteModemChange(before: number, after: number): void {
    const changed = before ^ after;
    // DCTS, DDSR, DDCD are the status bits' changes shifted down by 4; TERI
    // is set only when RI goes from on to off.
    let delta = (changed >> 4) & 0x0b;
    if (before & ~after & MSR_RI) delta |= MSR_TERI;
    this.msrDelta |= delta;
  }

  private interruptId(): number {
    if (this.ier & IER_RDI && this.rxCount > 0) {
      const fifo = (this.fcr & FCR_ENABLE) !== 0;
      // Below the trigger level the 16550 reports a character timeout once
      // the line has been idle; the host delivers in bursts, so report it now.
      return fifo && this.rxCount < TRIGGER_LEVELS[this.fcr >> 6] ? IIR_RX_TIMEOUT : IIR_RDI;
    }
    if (this.ier & IER_THRI && this.thrPending) return IIR_THRI;
    if (this.ier & IER_MSI && this.msrDelta !== 0) return IIR_MSI;
    return IIR_NO_INT;
  }

  private updateIrq(): void {
    const level = this.interruptId() !== IIR_NO_INT;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.setIrq(this.irqNumber, level);
    }
  }
}
