/**
 * A small, pure ELF64 little-endian parser: the file header, the program
 * headers, the interpreter path (PT_INTERP) and, for test programs that talk
 * through a `tohost` word, a symbol lookup. It validates every offset and size
 * against the file before anything is used, and throws `ElfError` with a
 * message that says what is wrong with which file.
 *
 * Used by the process VM (src/procvm) and by the board's bare-metal loader;
 * it knows nothing about either. Addresses are returned as numbers and must
 * fit in 2^53 (true of every riscv64 Sv39/Sv48 user address and of the virt
 * board's physical map); anything larger is rejected.
 */

export const ET_EXEC = 2;
export const ET_DYN = 3;
export const EM_RISCV = 243;

export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_NOTE = 4;
export const PT_PHDR = 6;
export const PT_TLS = 7;
export const PT_GNU_STACK = 0x6474e551;
export const PT_GNU_RELRO = 0x6474e552;

export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

/** RISC-V e_flags: compressed instructions used; float ABI field. */
export const EF_RISCV_RVC = 0x1;
export const EF_RISCV_FLOAT_ABI_MASK = 0x6;
export const EF_RISCV_RVE = 0x8;

export const ELF64_EHDR_SIZE = 64;
export const ELF64_PHDR_SIZE = 56;
const ELF64_SHDR_SIZE = 64;
const ELF64_SYM_SIZE = 24;
const SHT_SYMTAB = 2;

export interface ElfHeader {
  type: number;
  machine: number;
  entry: number;
  phoff: number;
  shoff: number;
  flags: number;
  phentsize: number;
  phnum: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
  osabi: number;
}

export interface ProgramHeader {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
  align: number;
}

export interface ElfFile {
  /** The whole file; segment contents are views into it. */
  bytes: Uint8Array;
  header: ElfHeader;
  programHeaders: ProgramHeader[];
  /** The PT_INTERP path (the dynamic loader), or null for a static program. */
  interpreter: string | null;
}

export interface ParseOptions {
  /** Reject files for another machine (e_machine), e.g. EM_RISCV. */
  machine?: number;
  /** Name used in error messages (a path). */
  name?: string;
}

export class ElfError extends Error {
  override name = "ElfError";
}

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

/** Parses and validates `bytes` as an ELF64 little-endian file. */
export function parseElf(bytes: Uint8Array, options: ParseOptions = {}): ElfFile {
  const what = options.name ?? "ELF file";
  const fail = (msg: string): never => {
    throw new ElfError(`${what}: ${msg}`);
  };
  if (!isElf(bytes)) fail("not an ELF file (bad magic)");
  if (bytes.length < ELF64_EHDR_SIZE) fail(`truncated ELF header (${bytes.length} bytes)`);
  if (bytes[4] !== 2) fail(`not a 64-bit ELF (EI_CLASS ${bytes[4]})`);
  if (bytes[5] !== 1) fail(`not a little-endian ELF (EI_DATA ${bytes[5]})`);
  if (bytes[6] !== 1) fail(`unknown ELF version ${bytes[6]}`);

  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (off: number, field: string): number => {
    const v = dv.getBigUint64(off, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${field} 0x${v.toString(16)} is out of range`);
    return Number(v);
  };
  const header: ElfHeader = {
    type: dv.getUint16(16, true),
    machine: dv.getUint16(18, true),
    entry: u64(24, "e_entry"),
    phoff: u64(32, "e_phoff"),
    shoff: u64(40, "e_shoff"),
    flags: dv.getUint32(48, true),
    phentsize: dv.getUint16(54, true),
    phnum: dv.getUint16(56, true),
    shentsize: dv.getUint16(58, true),
    shnum: dv.getUint16(60, true),
    shstrndx: dv.getUint16(62, true),
    osabi: bytes[7],
  };
  if (dv.getUint32(20, true) !== 1) fail(`unknown e_version ${dv.getUint32(20, true)}`);
  if (options.machine !== undefined && header.machine !== options.machine) {
    fail(`built for machine ${machineName(header.machine)}, expected ${machineName(options.machine)}`);
  }
  if (header.type !== ET_EXEC && header.type !== ET_DYN) {
    fail(`not an executable or shared object (e_type ${header.type})`);
  }
  if (header.phnum === 0xffff) fail("extended program header numbering (PN_XNUM) is not supported");
  if (header.phnum > 0 && header.phentsize !== ELF64_PHDR_SIZE) {
    fail(`e_phentsize is ${header.phentsize}, expected ${ELF64_PHDR_SIZE}`);
  }
  if (header.phoff + header.phnum * ELF64_PHDR_SIZE > bytes.length) {
    fail(`program headers (offset ${header.phoff}, ${header.phnum} entries) run past the end of the file`);
  }

  const programHeaders: ProgramHeader[] = [];
  let interpreter: string | null = null;
  for (let i = 0; i < header.phnum; i++) {
    const o = header.phoff + i * ELF64_PHDR_SIZE;
    const ph: ProgramHeader = {
      type: dv.getUint32(o, true),
      flags: dv.getUint32(o + 4, true),
      offset: u64(o + 8, `p_offset of segment ${i}`),
      vaddr: u64(o + 16, `p_vaddr of segment ${i}`),
      paddr: u64(o + 24, `p_paddr of segment ${i}`),
      filesz: u64(o + 32, `p_filesz of segment ${i}`),
      memsz: u64(o + 40, `p_memsz of segment ${i}`),
      align: u64(o + 48, `p_align of segment ${i}`),
    };
    if (ph.type === PT_LOAD || ph.type === PT_INTERP) {
      if (ph.offset + ph.filesz > bytes.length) {
        fail(`segment ${i} (offset ${ph.offset}, ${ph.filesz} bytes) runs past the end of the file`);
      }
    }
    if (ph.type === PT_LOAD) {
      if (ph.filesz > ph.memsz) fail(`segment ${i} has p_filesz ${ph.filesz} > p_memsz ${ph.memsz}`);
      if (ph.vaddr + ph.memsz > Number.MAX_SAFE_INTEGER) fail(`segment ${i} wraps the address space`);
      if (ph.align > 1 && !Number.isInteger(Math.log2(ph.align))) {
        fail(`segment ${i} has p_align ${ph.align}, not a power of two`);
      }
    }
    if (ph.type === PT_INTERP) {
      if (interpreter !== null) fail("more than one PT_INTERP segment");
      const raw = bytes.subarray(ph.offset, ph.offset + ph.filesz);
      const nul = raw.indexOf(0);
      // QEMU's words, with the bytes quoted raw: whoever prints the message escapes it (escapeText).
      if (nul <= 0) fail(`Invalid PT_INTERP entry "${new TextDecoder().decode(raw.subarray(0, 256))}"`);
      interpreter = new TextDecoder().decode(raw.subarray(0, nul));
    }
    programHeaders.push(ph);
  }
  return { bytes, header, programHeaders, interpreter };
}

/** The PT_LOAD segments in file order. */
export function loadSegments(elf: ElfFile): ProgramHeader[] {
  return elf.programHeaders.filter((ph) => ph.type === PT_LOAD);
}

/** The bytes a segment takes from the file (p_filesz of them; the rest of p_memsz is zero). */
export function segmentBytes(elf: ElfFile, ph: ProgramHeader): Uint8Array {
  return elf.bytes.subarray(ph.offset, ph.offset + ph.filesz);
}

/**
 * The value of symbol `name` from the static symbol table (.symtab), or null
 * when there is none (stripped file) or no such symbol.
 */
export function findSymbol(elf: ElfFile, name: string): number | null {
  const { bytes, header } = elf;
  if (header.shnum === 0 || header.shentsize !== ELF64_SHDR_SIZE) return null;
  if (header.shoff + header.shnum * ELF64_SHDR_SIZE > bytes.length) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const want = new TextEncoder().encode(name);
  for (let i = 0; i < header.shnum; i++) {
    const sh = header.shoff + i * ELF64_SHDR_SIZE;
    if (dv.getUint32(sh + 4, true) !== SHT_SYMTAB) continue;
    const symOff = Number(dv.getBigUint64(sh + 24, true));
    const symSize = Number(dv.getBigUint64(sh + 32, true));
    const strIndex = dv.getUint32(sh + 40, true);
    if (strIndex >= header.shnum || symOff + symSize > bytes.length) return null;
    const strSh = header.shoff + strIndex * ELF64_SHDR_SIZE;
    const strOff = Number(dv.getBigUint64(strSh + 24, true));
    const strSize = Number(dv.getBigUint64(strSh + 32, true));
    if (strOff + strSize > bytes.length) return null;
    for (let s = symOff; s + ELF64_SYM_SIZE <= symOff + symSize; s += ELF64_SYM_SIZE) {
      const nameOff = dv.getUint32(s, true);
      if (nameOff + want.length >= strSize) continue;
      const at = strOff + nameOff;
      let match = bytes[at + want.length] === 0;
      for (let k = 0; match && k < want.length; k++) match = bytes[at + k] === want[k];
      if (match) return Number(dv.getBigUint64(s + 8, true));
    }
  }
  return null;
}

function machineName(machine: number): string {
  switch (machine) {
    case EM_RISCV: return "RISC-V (243)";
    case 62: return "x86-64 (62)";
    case 183: return "AArch64 (183)";
    case 3: return "i386 (3)";
    case 40: return "ARM (40)";
    default: return `e_machine ${machine}`;
  }
}
