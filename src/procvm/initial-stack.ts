/**
 * The stack a Linux program finds at its entry point, laid out as
 * fs/binfmt_elf.c `create_elf_tables` and fs/exec.c do (riscv64, no stack
 * randomisation), from the top down:
 *
 *   [8 bytes of zero]  execfn string  env strings  arg strings
 *   (align 16)  16 random bytes (AT_RANDOM)
 *   (align 16 after the vectors)  argc  argv[] NULL  envp[] NULL  auxv pairs, AT_NULL
 *
 * Pure: it returns the bytes from `sp` to `top` and the addresses inside.
 */
export const AT_NULL = 0;
export const AT_PHDR = 3;
export const AT_PHENT = 4;
export const AT_PHNUM = 5;
export const AT_PAGESZ = 6;
export const AT_BASE = 7;
export const AT_FLAGS = 8;
export const AT_ENTRY = 9;
export const AT_UID = 11;
export const AT_EUID = 12;
export const AT_GID = 13;
export const AT_EGID = 14;
export const AT_PLATFORM = 15;
export const AT_HWCAP = 16;
export const AT_CLKTCK = 17;
export const AT_SECURE = 23;
export const AT_RANDOM = 25;
export const AT_EXECFN = 31;

/** rv64imafdc as Linux reports it: one bit per ISA letter ('a' = bit 0). */
export const RISCV_HWCAP = [..."imafdc"].reduce((m, c) => m | (1 << (c.charCodeAt(0) - 97)), 0);

export interface StackInput {
  /** Highest address + 1 of the stack (page aligned). */
  top: number;
  argv: Uint8Array[];
  envp: Uint8Array[];
  /** The path the program was executed by (AT_EXECFN). */
  execfn: Uint8Array;
  /** 16 bytes for AT_RANDOM. */
  random: Uint8Array;
  /**
   * Auxiliary vector entries in order, without AT_RANDOM / AT_EXECFN /
   * AT_NULL, which the builder adds (AT_RANDOM and AT_EXECFN after
   * AT_SECURE, as Linux orders them).
   */
  auxv: Array<[number, number]>;
}

export interface StackImage {
  sp: number;
  /** The bytes of [sp, top). */
  bytes: Uint8Array;
  argvAddr: number;
  envpAddr: number;
  auxvAddr: number;
  randomAddr: number;
  execfnAddr: number;
  /** Where the argv and envp strings lie: [argStart, envStart) and [envStart, envEnd) (/proc/self/cmdline, environ). */
  argStart: number;
  envStart: number;
  envEnd: number;
  /** The auxiliary vector as written, AT_NULL included (/proc/self/auxv). */
  auxv: Array<[number, number]>;
}

export function buildInitialStack(input: StackInput): StackImage {
  const { top, argv, envp, execfn, random } = input;
  let p = top - 8;
  const execfnAddr = (p -= execfn.length + 1);
  const envAddrs = new Array<number>(envp.length);
  for (let i = envp.length - 1; i >= 0; i--) envAddrs[i] = p -= envp[i].length + 1;
  const argAddrs = new Array<number>(argv.length);
  for (let i = argv.length - 1; i >= 0; i--) argAddrs[i] = p -= argv[i].length + 1;
  p -= p % 16;
  const randomAddr = (p -= 16);

  const auxv: Array<[number, number]> = [];
  for (const entry of input.auxv) {
    auxv.push(entry);
    if (entry[0] === AT_SECURE) auxv.push([AT_RANDOM, randomAddr], [AT_EXECFN, execfnAddr]);
  }
  if (!auxv.some(([t]) => t === AT_RANDOM)) auxv.push([AT_RANDOM, randomAddr], [AT_EXECFN, execfnAddr]);
  auxv.push([AT_NULL, 0]);

  const words = 1 + argv.length + 1 + envp.length + 1 + auxv.length * 2;
  let sp = p - words * 8;
  sp -= ((sp % 16) + 16) % 16;

  const bytes = new Uint8Array(top - sp);
  const dv = new DataView(bytes.buffer);
  const put = (addr: number, v: number) => dv.setBigUint64(addr - sp, BigInt(v), true);
  const putStr = (addr: number, s: Uint8Array) => bytes.set(s, addr - sp);
  putStr(execfnAddr, execfn);
  envp.forEach((s, i) => putStr(envAddrs[i], s));
  argv.forEach((s, i) => putStr(argAddrs[i], s));
  bytes.set(random.subarray(0, 16), randomAddr - sp);

  let at = sp;
  put(at, argv.length);
  at += 8;
  const argvAddr = at;
  for (const a of argAddrs) put((at += 8) - 8, a);
  put(at, 0);
  at += 8;
  const envpAddr = at;
  for (const e of envAddrs) put((at += 8) - 8, e);
  put(at, 0);
  at += 8;
  const auxvAddr = at;
  for (const [type, value] of auxv) {
    put(at, type);
    put(at + 8, value);
    at += 16;
  }
  const envStart = envAddrs.length > 0 ? envAddrs[0] : execfnAddr;
  const argStart = argAddrs.length > 0 ? argAddrs[0] : envStart;
  return { sp, bytes, argvAddr, envpAddr, auxvAddr, randomAddr, execfnAddr, argStart, envStart, envEnd: execfnAddr, auxv };
}
