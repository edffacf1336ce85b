/**
 * Built-in SBI firmware: the default `--bios`. There is no M-mode code at
 * all; the hart starts in S-mode and every `ecall` from S reaches this host
 * handler (Hart.hostTrap), which implements SBI v1.0 base, TIME, IPI, RFENCE,
 * HSM and SRST plus the legacy console calls `earlycon=sbi` uses.
 */
import { Hart, IRQ_SSIP } from "../cpu/hart.ts";
import {
  MCOUNTEREN, MEDELEG, MENVCFG, MIDELEG, MIP, MSTATUS, PRIV, PRIV_S, SCOUNTEREN, STIMECMP, X,
} from "../cpu/hart-state.ts";
import {
  EXC_ECALL_M, EXC_ECALL_S, MEDELEG_WRITABLE, MENVCFG_HI_STCE, MIP_MEIP, MIP_MSIP, MIP_MTIP, MIP_SEIP,
  MIP_SSIP, MIP_STIP,
} from "../cpu/csr-numbers.ts";

/** What the firmware needs from the board. */
export interface SbiPlatform {
  readonly harts: readonly Hart[];
  putChar(c: number): void;
  /** Next console input byte, or -1. */
  getChar(): number;
  /** SRST or legacy shutdown: `type` 0 = shutdown, 1 = cold reboot, 2 = warm reboot. */
  systemReset(type: number, reason: number): void;
  /** HSM hart_start: the board resets hart `hartId` into S-mode at `addr`. */
  startHart(hartId: number, addr: number, opaque: number): boolean;
  stopHart(hartId: number): void;
  isHartStarted(hartId: number): boolean;
}

export const SBI_SUCCESS = 0;
export const SBI_ERR_FAILED = -1;
export const SBI_ERR_NOT_SUPPORTED = -2;
export const SBI_ERR_INVALID_PARAM = -3;
export const SBI_ERR_ALREADY_AVAILABLE = -6;

export const EXT_BASE = 0x10;
export const EXT_TIME = 0x54494d45;
export const EXT_IPI = 0x735049;
export const EXT_RFENCE = 0x52464e43;
export const EXT_HSM = 0x48534d;
export const EXT_SRST = 0x53525354;
const LEGACY_LAST = 0x08;

/** SBI implementation ID reported by sbi_get_impl_id ("TV"). */
export const SBI_IMPL_ID = 0x5456;
const SPEC_VERSION_1_0 = 0x01000000;
const SUPPORTED = new Set([EXT_BASE, EXT_TIME, EXT_IPI, EXT_RFENCE, EXT_HSM, EXT_SRST]);

const A0 = 10, A1 = 11, A2 = 12, A6 = 16, A7 = 17;

/**
 * Puts a hart into the state firmware leaves it in before entering an S-mode
 * payload: delegations, counters and Sstc enabled, in S-mode at `entry` with
 * a0 = hart id and a1 = `a1`.
 */
export function enterSupervisor(hart: Hart, entry: number, a1: number): void {
  const w = hart.w;
  // Interrupt lines the devices drive stay as they are across the reset.
  const deviceLines = w[MIP] & (MIP_MSIP | MIP_MTIP | MIP_MEIP | MIP_SEIP);
  hart.reset(entry);
  if (deviceLines !== 0) hart.setPending(deviceLines, true);
  // Everything S can handle goes to S; ecalls from S come to the host handler.
  w[MEDELEG] = MEDELEG_WRITABLE & ~((1 << EXC_ECALL_S) | (1 << EXC_ECALL_M));
  w[MIDELEG] = MIP_SSIP | MIP_STIP | MIP_SEIP;
  w[MCOUNTEREN] = 7;
  // OpenSBI leaves cycle/time/instret readable from U-mode too; Linux 6.1
  // relies on it (its vDSO reads the time CSR directly).
  w[SCOUNTEREN] = 7;
  w[MENVCFG + 1] = MENVCFG_HI_STCE;
  // No timer until the kernel asks for one.
  w[STIMECMP] = -1;
  w[STIMECMP + 1] = -1;
  w[MSTATUS] = PRIV_S << 11; // MPP = S, for tidiness
  w[PRIV] = PRIV_S;
  hart.state.setX(A0, hart.hartId);
  hart.state.setX(A1, a1);
  hart.flushTlb();
}

export class BuiltinSbi {
  constructor(private readonly platform: SbiPlatform) {}

  /** Installs the firmware as every hart's host trap handler. */
  install(): void {
    for (const hart of this.platform.harts) hart.hostTrap = this.handleTrap;
  }

  readonly handleTrap = (hart: Hart, cause: number): boolean => {
    if (cause !== EXC_ECALL_S) return false;
    this.call(hart);
    hart.state.advancePc(4);
    return true;
  };

  private call(hart: Hart): void {
    const s = hart.state;
    const eid = s.getXU(A7) >>> 0;
    const fid = s.getXU(A6) >>> 0;
    if (eid <= LEGACY_LAST) {
      s.setX(A0, this.legacy(hart, eid));
      return;
    }
    let error = SBI_SUCCESS;
    let value = 0;
    switch (eid) {
      case EXT_BASE:
        switch (fid) {
          case 0: value = SPEC_VERSION_1_0; break;
          case 1: value = SBI_IMPL_ID; break;
          case 2: value = 0x00010000; break; // implementation version 1.0
          case 3: value = SUPPORTED.has(s.getXU(A0)) || s.getXU(A0) <= LEGACY_LAST ? 1 : 0; break;
          case 4: case 5: case 6: value = 0; break; // mvendorid, marchid, mimpid
          default: error = SBI_ERR_NOT_SUPPORTED;
        }
        break;
      case EXT_TIME:
        if (fid === 0) this.setTimer(hart, s.getPair(X + 2 * A0));
        else error = SBI_ERR_NOT_SUPPORTED;
        break;
      case EXT_IPI:
        if (fid === 0) error = this.sendIpi(s.getXU(A0), s.getXS(A1));
        else error = SBI_ERR_NOT_SUPPORTED;
        break;
      case EXT_RFENCE:
        if (fid <= 6) error = this.remoteFence(s.getXU(A0), s.getXS(A1), fid);
        else error = SBI_ERR_NOT_SUPPORTED;
        break;
      case EXT_HSM:
        ({ error, value } = this.hsm(hart, fid));
        break;
      case EXT_SRST:
        if (fid === 0) {
          const type = s.getXU(A0);
          if (type > 2) error = SBI_ERR_INVALID_PARAM;
          else this.platform.systemReset(type, s.getXU(A1));
        } else {
          error = SBI_ERR_NOT_SUPPORTED;
        }
        break;
      default:
        error = SBI_ERR_NOT_SUPPORTED;
    }
    s.setX(A0, error);
    s.setX(A1, value);
  }

  private legacy(hart: Hart, eid: number): number {
    const s = hart.state;
    switch (eid) {
      case 0x00: this.setTimer(hart, s.getPair(X + 2 * A0)); return 0;
      case 0x01: this.platform.putChar(s.getXU(A0) & 0xff); return 0;
      case 0x02: return this.platform.getChar();
      case 0x03: hart.setPending(IRQ_SSIP, false); return 0;
      case 0x04: return this.sendIpi(this.readHartMask(hart, s.getXU(A0)), 0);
      case 0x05: return 0; // remote fence.i: nothing cached
      case 0x06: case 0x07: return this.remoteFence(this.readHartMask(hart, s.getXU(A0)), 0, 1);
      case 0x08: this.platform.systemReset(0, 0); return 0;
    }
    return SBI_ERR_NOT_SUPPORTED;
  }

  /** Legacy calls pass a pointer to a hart mask in S-mode virtual memory; 0 means all harts. */
  private readHartMask(hart: Hart, ptr: number): number {
    if (ptr === 0) return (1 << this.platform.harts.length) - 1;
    return hart.readVirtual64(ptr) ?? 0;
  }

  private setTimer(hart: Hart, deadline: bigint): void {
    const w = hart.w;
    w[STIMECMP] = Number(BigInt.asIntN(32, deadline));
    w[STIMECMP + 1] = Number(BigInt.asIntN(32, deadline >> 32n));
    w[MENVCFG + 1] |= MENVCFG_HI_STCE;
    hart.setPending(MIP_STIP, false);
    hart.timerChanged();
  }

  private forEachTarget(mask: number, base: number, fn: (h: Hart) => void): number {
    const harts = this.platform.harts;
    if (base === -1) {
      for (const h of harts) fn(h);
      return SBI_SUCCESS;
    }
    for (let i = 0; i < 32; i++) {
      if (((mask >>> i) & 1) === 0) continue;
      const id = base + i;
      if (id >= harts.length) return SBI_ERR_INVALID_PARAM;
    }
    for (let i = 0; i < 32; i++) if (((mask >>> i) & 1) !== 0) fn(harts[base + i]);
    return SBI_SUCCESS;
  }

  private sendIpi(mask: number, base: number): number {
    return this.forEachTarget(mask, base, (h) => h.setPending(IRQ_SSIP, true));
  }

  private remoteFence(mask: number, base: number, fid: number): number {
    return this.forEachTarget(mask, base, (h) => {
      if (fid !== 0) h.flushTlb();
    });
  }

  private hsm(hart: Hart, fid: number): { error: number; value: number } {
    const s = hart.state;
    const p = this.platform;
    switch (fid) {
      case 0: { // hart_start
        const id = s.getXU(A0);
        if (id >= p.harts.length) return { error: SBI_ERR_INVALID_PARAM, value: 0 };
        if (p.isHartStarted(id)) return { error: SBI_ERR_ALREADY_AVAILABLE, value: 0 };
        const ok = p.startHart(id, s.getXU(A1), s.getXU(A2));
        return { error: ok ? SBI_SUCCESS : SBI_ERR_FAILED, value: 0 };
      }
      case 1: // hart_stop
        p.stopHart(hart.hartId);
        return { error: SBI_SUCCESS, value: 0 };
      case 2: { // hart_get_status: 0 started, 1 stopped
        const id = s.getXU(A0);
        if (id >= p.harts.length) return { error: SBI_ERR_INVALID_PARAM, value: 0 };
        return { error: SBI_SUCCESS, value: p.isHartStarted(id) ? 0 : 1 };
      }
      case 3: // hart_suspend: default retentive suspend behaves as WFI
        return { error: SBI_SUCCESS, value: 0 };
    }
    return { error: SBI_ERR_NOT_SUPPORTED, value: 0 };
  }
}
