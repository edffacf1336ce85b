import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ET_DYN, ET_EXEC, ElfError, EM_RISCV, PF_R, PF_X, PT_INTERP, PT_LOAD, findSymbol, isElf, loadSegments, parseElf,
  segmentBytes,
} from "../../src/loader/elf.ts";

interface Seg {
  type: number;
  flags?: number;
  vaddr: number;
  data: Uint8Array;
  memsz?: number;
}

/** A minimal ELF64 LE file: header, program headers, then each segment's bytes. */
function elf(opts: { type?: number; machine?: number; entry?: number; segs: Seg[] }): Uint8Array {
  const phoff = 64;
  let at = phoff + 56 * opts.segs.length;
  const size = at + opts.segs.reduce((n, s) => n + s.data.length, 0);
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  dv.setUint16(16, opts.type ?? ET_EXEC, true);
  dv.setUint16(18, opts.machine ?? EM_RISCV, true);
  dv.setUint32(20, 1, true);
  dv.setBigUint64(24, BigInt(opts.entry ?? 0x10000), true);
  dv.setBigUint64(32, BigInt(phoff), true);
  dv.setUint16(54, 56, true);
  dv.setUint16(56, opts.segs.length, true);
  opts.segs.forEach((s, i) => {
    const ph = phoff + 56 * i;
    dv.setUint32(ph, s.type, true);
    dv.setUint32(ph + 4, s.flags ?? PF_R, true);
    dv.setBigUint64(ph + 8, BigInt(at), true);
    dv.setBigUint64(ph + 16, BigInt(s.vaddr), true);
    dv.setBigUint64(ph + 24, BigInt(s.vaddr), true);
    dv.setBigUint64(ph + 32, BigInt(s.data.length), true);
    dv.setBigUint64(ph + 40, BigInt(s.memsz ?? s.data.length), true);
    dv.setBigUint64(ph + 48, 0x1000n, true);
    b.set(s.data, at);
    at += s.data.length;
  });
  return b;
}

const text = new Uint8Array([0x13, 0, 0, 0, 0x73, 0, 0, 0]);
const interp = new TextEncoder().encode("/lib/ld-linux-riscv64-lp64d.so.1\0");

test("parses the header, program headers and segment contents", () => {
  const bytes = elf({ entry: 0x10078, segs: [{ type: PT_LOAD, flags: PF_R | PF_X, vaddr: 0x10000, data: text, memsz: 0x2000 }] });
  const f = parseElf(bytes, { machine: EM_RISCV });
  assert.equal(f.header.type, ET_EXEC);
  assert.equal(f.header.machine, EM_RISCV);
  assert.equal(f.header.entry, 0x10078);
  assert.equal(f.interpreter, null);
  const [seg] = loadSegments(f);
  assert.deepEqual({ vaddr: seg.vaddr, filesz: seg.filesz, memsz: seg.memsz, flags: seg.flags }, {
    vaddr: 0x10000, filesz: 8, memsz: 0x2000, flags: PF_R | PF_X,
  });
  assert.deepEqual([...segmentBytes(f, seg)], [...text]);
});

test("reads the PT_INTERP path of a dynamic (ET_DYN) program", () => {
  const bytes = elf({ type: ET_DYN, segs: [{ type: PT_INTERP, vaddr: 0x200, data: interp }, { type: PT_LOAD, vaddr: 0, data: text }] });
  const f = parseElf(bytes);
  assert.equal(f.header.type, ET_DYN);
  assert.equal(f.interpreter, "/lib/ld-linux-riscv64-lp64d.so.1");
  assert.equal(loadSegments(f).length, 1);
});

test("rejects bad files with messages that name the file and the problem", () => {
  const ok = elf({ segs: [{ type: PT_LOAD, vaddr: 0x10000, data: text }] });
  const bad = (mutate: (b: Uint8Array, dv: DataView) => void): Uint8Array => {
    const b = ok.slice();
    mutate(b, new DataView(b.buffer));
    return b;
  };
  const cases: Array<[Uint8Array, RegExp]> = [
    [new TextEncoder().encode("#!/bin/sh\n"), /prog: not an ELF file \(bad magic\)/],
    [ok.subarray(0, 40), /truncated ELF header/],
    [bad((b) => (b[4] = 1)), /not a 64-bit ELF/],
    [bad((b) => (b[5] = 2)), /not a little-endian ELF/],
    [bad((_b, dv) => dv.setUint16(18, 62, true)), /built for machine x86-64 \(62\), expected RISC-V \(243\)/],
    [bad((_b, dv) => dv.setUint16(16, 4, true)), /not an executable or shared object \(e_type 4\)/],
    [bad((_b, dv) => dv.setUint16(56, 40, true)), /program headers .* run past the end of the file/],
    [bad((_b, dv) => dv.setBigUint64(64 + 32, 1n << 20n, true)), /segment 0 .* runs past the end of the file/],
    [bad((_b, dv) => dv.setBigUint64(64 + 40, 2n, true)), /p_filesz 8 > p_memsz 2/],
    [bad((_b, dv) => dv.setBigUint64(64 + 48, 0x1800n, true)), /not a power of two/],
    [bad((_b, dv) => dv.setBigUint64(24, 1n << 60n, true)), /e_entry 0x1000000000000000 is out of range/],
    [bad((_b, dv) => dv.setUint16(54, 32, true)), /e_phentsize is 32/],
  ];
  for (const [bytes, message] of cases) {
    assert.throws(() => parseElf(bytes, { machine: EM_RISCV, name: "prog" }), (e: unknown) => {
      assert.ok(e instanceof ElfError, `ElfError for ${message}`);
      assert.match((e as Error).message, message);
      assert.match((e as Error).message, /^prog: /);
      return true;
    });
  }
});

test("an unterminated or duplicated PT_INTERP is rejected", () => {
  const noNul = elf({ segs: [{ type: PT_INTERP, vaddr: 0, data: new TextEncoder().encode("/lib/ld") }] });
  assert.throws(() => parseElf(noNul), /Invalid PT_INTERP entry/);
  const two = elf({ segs: [{ type: PT_INTERP, vaddr: 0, data: interp }, { type: PT_INTERP, vaddr: 0, data: interp }] });
  assert.throws(() => parseElf(two), /more than one PT_INTERP/);
});

test("isElf looks at the magic only; findSymbol is null without a symbol table", () => {
  assert.equal(isElf(new Uint8Array([0x7f, 0x45, 0x4c, 0x46])), true);
  assert.equal(isElf(new Uint8Array([0x7f, 0x45, 0x4c])), false);
  const f = parseElf(elf({ segs: [{ type: PT_LOAD, vaddr: 0x10000, data: text }] }));
  assert.equal(findSymbol(f, "tohost"), null);
});
