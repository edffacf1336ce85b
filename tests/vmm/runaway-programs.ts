/**
 * Bare-metal guests for the Vm tests (M-mode at 0x8000_0000 under
 * firmware "none"), assembled at test time like tests/cli/programs.ts:
 * well-behaved ones to drive through the Vm API, and runaways that a VMM
 * must contain.
 */
import { buildElf } from "../support/toolchain.ts";
import { program as cliProgram } from "../cli/programs.ts";

const UART = 0x10000000;
const MTIME = 0x200bff8;

/**
 * Answers each byte received on the UART (polled) with the CLINT's mtime as
 * 16 hex digits and a newline: the guest's own clock, on request. Prints
 * "?" once ready.
 */
const clock = `
  .section .text.init
  .globl _start
_start:
  li s0, ${UART}
  li t0, '?'
  sb t0, 0(s0)
wait:
  lbu t0, 5(s0)
  andi t0, t0, 1
  beqz t0, wait
  lbu t0, 0(s0)
  li t1, ${MTIME}
  ld s1, 0(t1)
  li s2, 60
digit:
  srl t2, s1, s2
  andi t2, t2, 15
  li t3, 10
  blt t2, t3, 1f
  addi t2, t2, 'a' - 10 - '0'
1:
  addi t2, t2, '0'
  sb t2, 0(s0)
  addi s2, s2, -4
  bgez s2, digit
  li t2, '\\n'
  sb t2, 0(s0)
  j wait
`;

/** Prints "S", then spins forever without a WFI or any device access. */
const spin = `
  .section .text.init
  .globl _start
_start:
  li t0, ${UART}
  li t1, 'S'
  sb t1, 0(t0)
1:
  addi t2, t2, 1
  j 1b
`;

/** Writes "x" to the UART as fast as it can, forever, never looking at the line status. */
const flood = `
  .section .text.init
  .globl _start
_start:
  li t0, ${UART}
  li t1, 'x'
1:
  sb t1, 0(t0)
  j 1b
`;

/**
 * Prints "F", then executes an illegal instruction with mtvec pointing at
 * itself: a trap storm that never ends.
 */
const fault = `
  .section .text.init
  .globl _start
_start:
  li t0, ${UART}
  li t1, 'F'
  sb t1, 0(t0)
  lla t0, bad
  csrw mtvec, t0
bad:
  .word 0
`;

const SOURCES = { clock, spin, flood, fault };
export type VmmProgram = keyof typeof SOURCES | "echo" | "hello" | "reset";

export function program(name: VmmProgram): Promise<string> {
  if (name === "echo" || name === "hello" || name === "reset") return cliProgram(name);
  return buildElf({ sources: [{ name: `vmm-${name}.S`, text: SOURCES[name] }] });
}

/** A VmConfig that runs one of these programs bare-metal. */
export async function bareMetalConfig(name: VmmProgram, memory = 16 << 20) {
  return { memory, harts: 1, firmware: { kind: "none" as const }, kernel: await program(name), drives: [], nics: [], rng: false };
}
