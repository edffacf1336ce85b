/** Builds small ELF64 files in memory for loader tests (no binaries in the repo). */

export interface SegmentSpec {
  paddr: number;
  vaddr?: number;
  data: Uint8Array;
  memsz?: number;
  type?: number;
}

export interface ElfSpec {
  entry: number;
  segments: SegmentSpec[];
  machine?: number;
  cls?: number;
  data?: number;
}

export function buildElf(spec: ElfSpec): Uint8Array {
  const phoff = 64;
  const dataStart = phoff + 56 * spec.segments.length;
  const size = dataStart + spec.segments.reduce((n, s) => n + s.data.length, 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, spec.cls ?? 2, spec.data ?? 1, 1]);
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, spec.machine ?? 243, true);
  dv.setUint32(20, 1, true);
  dv.setBigUint64(24, BigInt(spec.entry), true);
  dv.setBigUint64(32, BigInt(phoff), true);
  dv.setUint16(52, 64, true);
  dv.setUint16(54, 56, true);
  dv.setUint16(56, spec.segments.length, true);
  let at = dataStart;
  spec.segments.forEach((s, i) => {
    const ph = phoff + 56 * i;
    dv.setUint32(ph, s.type ?? 1, true);
    dv.setUint32(ph + 4, 7, true);
    dv.setBigUint64(ph + 8, BigInt(at), true);
    dv.setBigUint64(ph + 16, BigInt(s.vaddr ?? s.paddr), true);
    dv.setBigUint64(ph + 24, BigInt(s.paddr), true);
    dv.setBigUint64(ph + 32, BigInt(s.data.length), true);
    dv.setBigUint64(ph + 40, BigInt(s.memsz ?? s.data.length), true);
    dv.setBigUint64(ph + 48, 0x1000n, true);
    out.set(s.data, at);
    at += s.data.length;
  });
  return out;
}
