/**
 * Builds a fresh address space for execve: the program's PT_LOAD segments,
 * its ELF interpreter, the signal-return trampoline page, the stack with
 * argv/envp/auxv, and the initial break. `#!` scripts are unwrapped first.
 *
 * File access goes through `ExecFiles` so path lookup (sysroot prefix, cwd)
 * stays with the caller.
 */
import { randomFillSync } from "node:crypto";
import {
  EM_RISCV, ET_DYN, ElfError, PF_R, PF_W, PF_X, PT_GNU_STACK, PT_LOAD, PT_PHDR, isElf, loadSegments, parseElf,
  type ElfFile,
} from "../loader/elf.ts";
import {
  AddressSpace, MMAP_BASE, PAGE_SIZE, PIE_BASE, PROT_EXEC, PROT_READ, PROT_WRITE, STACK_LIMIT, STACK_TOP,
  pageDown, pageUp,
} from "./address-space.ts";
import {
  AT_BASE, AT_CLKTCK, AT_EGID, AT_ENTRY, AT_EUID, AT_FLAGS, AT_GID, AT_HWCAP, AT_PAGESZ, AT_PHDR, AT_PHENT,
  AT_PHNUM, AT_SECURE, AT_UID, RISCV_HWCAP, buildInitialStack,
} from "./initial-stack.ts";
import type { PhysPages } from "./phys-pages.ts";

/** Linux BINPRM_BUF_SIZE: how much of a `#!` line is read. */
const SHEBANG_MAX = 256;
const MAX_SCRIPT_NESTING = 4;

export class ExecError extends Error {
  override name = "ExecError";
  constructor(
    /** The errno execve returns (ENOENT, ENOEXEC, EACCES, ...). */
    readonly errno: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ExecFiles {
  /**
   * Reads the file `path` (as the guest named it) for execution. Throws
   * ExecError (ENOENT, EACCES when not executable, ...).
   */
  readExecutable(path: string): { bytes: Uint8Array; hostPath: string };
}

export interface Credentials {
  uid: number;
  euid: number;
  gid: number;
  egid: number;
}

export interface ExecResult {
  space: AddressSpace;
  pc: number;
  sp: number;
  /** Address of the `li a7, 139; ecall` signal-return trampoline. */
  sigreturn: number;
  /** Host path of the program finally loaded (after `#!`), for /proc/self/exe. */
  hostPath: string;
  /** argv after `#!` unwrapping. */
  argv: Uint8Array[];
  /** Where the start-up strings and vectors went, for /proc/self/{cmdline,environ,auxv}. */
  startup: StartupArea;
}

export interface StartupArea {
  argStart: number;
  envStart: number;
  envEnd: number;
  auxv: Array<[number, number]>;
}

/** `addi a7, zero, 139` (rt_sigreturn); `ecall`. */
const SIGRETURN_CODE = new Uint8Array(new Uint32Array([0x08b00893, 0x00000073]).buffer);

/**
 * Loads `path` with `argv`/`envp` into a new address space. Nothing of the
 * caller's state changes, so a failing execve can still return an error.
 */
export function execImage(
  phys: PhysPages,
  files: ExecFiles,
  path: string,
  argvIn: Array<string | Uint8Array>,
  envpIn: Array<string | Uint8Array>,
  creds: Credentials,
): ExecResult {
  const enc = new TextEncoder();
  const bytesOf = (s: string | Uint8Array) => (typeof s === "string" ? enc.encode(s) : s);
  let argv = argvIn.map(bytesOf);
  const envp = envpIn.map(bytesOf);
  let { bytes, hostPath } = files.readExecutable(path);
  let execPath = path;
  for (let depth = 0; bytes[0] === 0x23 && bytes[1] === 0x21; depth++) {
    if (depth >= MAX_SCRIPT_NESTING) throw new ExecError("ELOOP", `${path}: too many levels of #! interpreters`);
    const shebang = parseShebang(bytes);
    if (shebang === null) throw new ExecError("ENOEXEC", `${execPath}: bad #! line`);
    const prefix = [shebang.interpreter, ...(shebang.arg !== null ? [shebang.arg] : []), execPath];
    argv = [...prefix.map(bytesOf), ...argv.slice(1)];
    execPath = shebang.interpreter;
    ({ bytes, hostPath } = files.readExecutable(execPath));
  }
  if (!isElf(bytes)) throw new ExecError("ENOEXEC", `${execPath}: not an ELF file or #! script`);
  const elf = parseRiscv(bytes, execPath);

  const space = new AddressSpace(phys);
  try {
    const main = loadElf(space, elf, elf.header.type === ET_DYN ? PIE_BASE : 0, hostPath);
    space.brkStart = space.brk = main.end;

    const trampoline = space.findFree(PAGE_SIZE);
    space.map(trampoline, trampoline + PAGE_SIZE, PROT_READ | PROT_EXEC, false, "[vdso]");
    space.writeForce(trampoline, SIGRETURN_CODE);

    let interpBase = 0;
    let pc = main.bias + elf.header.entry;
    if (elf.interpreter !== null) {
      const interp = files.readExecutable(elf.interpreter);
      const interpElf = parseRiscv(interp.bytes, elf.interpreter);
      if (interpElf.interpreter !== null) {
        throw new ExecError("ELIBBAD", `${elf.interpreter}: the ELF interpreter has an interpreter itself`);
      }
      const span = imageSpan(interpElf);
      const base = interpElf.header.type === ET_DYN ? space.findFree(span.end - span.start) - span.start : 0;
      const loaded = loadElf(space, interpElf, base, interp.hostPath);
      interpBase = loaded.bias + span.start;
      pc = loaded.bias + interpElf.header.entry;
    }

    const stackX = elf.programHeaders.some((ph) => ph.type === PT_GNU_STACK && (ph.flags & PF_X) !== 0);
    space.map(STACK_TOP - STACK_LIMIT, STACK_TOP, PROT_READ | PROT_WRITE | (stackX ? PROT_EXEC : 0), false, "[stack]");
    const random = new Uint8Array(16);
    randomFillSync(random);
    const image = buildInitialStack({
      top: STACK_TOP,
      argv,
      envp,
      execfn: enc.encode(path),
      random,
      auxv: [
        [AT_HWCAP, RISCV_HWCAP],
        [AT_PAGESZ, PAGE_SIZE],
        [AT_CLKTCK, 100],
        [AT_PHDR, main.phdr],
        [AT_PHENT, elf.header.phentsize],
        [AT_PHNUM, elf.header.phnum],
        [AT_BASE, interpBase],
        [AT_FLAGS, 0],
        [AT_ENTRY, main.bias + elf.header.entry],
        [AT_UID, creds.uid],
        [AT_EUID, creds.euid],
        [AT_GID, creds.gid],
        [AT_EGID, creds.egid],
        [AT_SECURE, 0],
      ],
    });
    if (STACK_TOP - image.sp > STACK_LIMIT / 4) throw new ExecError("E2BIG", `${path}: argument list too long`);
    space.writeForce(image.sp, image.bytes);
    const startup = { argStart: image.argStart, envStart: image.envStart, envEnd: image.envEnd, auxv: image.auxv };
    return { space, pc, sp: image.sp, sigreturn: trampoline, hostPath, argv, startup };
  } catch (e) {
    space.destroy();
    throw e;
  }
}

function parseRiscv(bytes: Uint8Array, name: string): ElfFile {
  try {
    return parseElf(bytes, { machine: EM_RISCV, name });
  } catch (e) {
    if (e instanceof ElfError) throw new ExecError("ENOEXEC", e.message);
    throw e;
  }
}

/** Lowest and highest+1 page-aligned addresses of the PT_LOAD segments (before relocation). */
function imageSpan(elf: ElfFile): { start: number; end: number } {
  const segs = loadSegments(elf);
  if (segs.length === 0) throw new ExecError("ENOEXEC", "ELF file has no PT_LOAD segment");
  let start = Infinity;
  let end = 0;
  for (const s of segs) {
    start = Math.min(start, pageDown(s.vaddr));
    end = Math.max(end, pageUp(s.vaddr + s.memsz));
  }
  return { start, end };
}

function protOf(flags: number): number {
  return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) | (flags & PF_X ? PROT_EXEC : 0);
}

/**
 * Maps and fills the PT_LOAD segments of `elf` at `bias` (for ET_DYN, the
 * address of virtual 0). Two segments sharing a page get the union of their
 * permissions there. Returns the page-aligned end and AT_PHDR.
 */
function loadElf(space: AddressSpace, elf: ElfFile, bias: number, name: string): { bias: number; end: number; phdr: number } {
  const span = imageSpan(elf);
  if (elf.header.type === ET_DYN && bias === PIE_BASE) bias = PIE_BASE - span.start;
  if (bias + span.start < PAGE_SIZE || bias + span.end > MMAP_BASE + (128 << 20)) {
    throw new ExecError("ENOMEM", `${name}: segments at 0x${(bias + span.start).toString(16)} do not fit the address space`);
  }
  const segs = loadSegments(elf).sort((a, b) => a.vaddr - b.vaddr);
  let mappedEnd = 0;
  for (const s of segs) {
    const start = pageDown(bias + s.vaddr);
    const end = pageUp(bias + s.vaddr + s.memsz);
    const prot = protOf(s.flags);
    if (start < mappedEnd) {
      const shared = Math.min(end, mappedEnd);
      space.protect(start, shared, space.vmaAt(start)!.prot | prot);
    }
    const from = Math.max(start, mappedEnd);
    if (end > from) space.map(from, end, prot, false, name, false, pageDown(s.offset) + (from - start));
    mappedEnd = Math.max(mappedEnd, end);
  }
  for (const s of segs) {
    if (s.filesz > 0) space.writeForce(bias + s.vaddr, elf.bytes.subarray(s.offset, s.offset + s.filesz));
  }
  let phdr = 0;
  const pt = elf.programHeaders.find((ph) => ph.type === PT_PHDR);
  if (pt !== undefined) phdr = bias + pt.vaddr;
  else {
    const holder = segs.find((s) => elf.header.phoff >= s.offset && elf.header.phoff < s.offset + s.filesz);
    if (holder !== undefined) phdr = bias + holder.vaddr + (elf.header.phoff - holder.offset);
  }
  return { bias, end: mappedEnd, phdr };
}

/** The interpreter and optional single argument of a `#!` line, as Linux binfmt_script splits it. */
export function parseShebang(bytes: Uint8Array): { interpreter: string; arg: string | null } | null {
  const head = bytes.subarray(2, Math.min(bytes.length, SHEBANG_MAX));
  let nl = head.indexOf(0x0a);
  if (nl < 0) nl = head.length;
  const line = new TextDecoder("latin1").decode(head.subarray(0, nl)).replace(/[ \t]+$/, "").replace(/^[ \t]+/, "");
  if (line.length === 0) return null;
  const m = /^(\S+)(?:[ \t]+(.*))?$/.exec(line);
  if (m === null) return null;
  return { interpreter: m[1], arg: m[2] !== undefined && m[2].length > 0 ? m[2] : null };
}
