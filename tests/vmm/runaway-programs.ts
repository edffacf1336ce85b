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
/** The config space (MAC first) of the virtio device in the first-filled slot. */
const VIRTIO_NET_CONFIG = 0x10008100;
/** SiFive test finisher (0x7777 there resets the board). */
const FINISHER = 0x100000;

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

/**
 * A counter on request: each byte received on the UART (polled) but "m"
 * adds one to a register and prints it as 16 hex digits and a newline; "m"
 * prints the MAC address in the config space of the virtio device in the
 * first slot (a virtio-net NIC) as 12 hex digits; "r" resets the board
 * (a reboot: the count starts again). Prints "?" once ready.
 */
const counter = `
  .section .text.init
  .globl _start
_start:
  li s0, ${UART}
  li s1, 0
  li t0, '?'
  sb t0, 0(s0)
wait:
  lbu t0, 5(s0)
  andi t0, t0, 1
  beqz t0, wait
  lbu t0, 0(s0)
  li t1, 'm'
  beq t0, t1, mac
  li t1, 'r'
  beq t0, t1, reboot
  addi s1, s1, 1
  mv a0, s1
  li a1, 60
  call hex
  j wait
mac:
  li s2, ${VIRTIO_NET_CONFIG}
  li s3, 6
1:
  lbu a0, 0(s2)
  li a1, 4
  call hex_digits
  addi s2, s2, 1
  addi s3, s3, -1
  bnez s3, 1b
  li t2, '\\n'
  sb t2, 0(s0)
  j wait
reboot:
  li t1, ${FINISHER}
  li t0, 0x7777
  sw t0, 0(t1)
1: j 1b
# a0 as hex from bit a1 down, then a newline
hex:
  mv s4, ra
  call hex_digits
  li t2, '\\n'
  sb t2, 0(s0)
  mv ra, s4
  ret
# a0's hex digits from bit a1 down to bit 0
hex_digits:
  srl t2, a0, a1
  andi t2, t2, 15
  li t3, 10
  blt t2, t3, 2f
  addi t2, t2, 'a' - 10 - '0'
2:
  addi t2, t2, '0'
  sb t2, 0(s0)
  addi a1, a1, -4
  bgez a1, hex_digits
  ret
`;

const SOURCES = { clock, spin, flood, fault, counter };
export type VmmProgram = keyof typeof SOURCES | "echo" | "hello" | "reset";

export function program(name: VmmProgram): Promise<string> {
  if (name === "echo" || name === "hello" || name === "reset") return cliProgram(name);
  return buildElf({ sources: [{ name: `vmm-${name}.S`, text: SOURCES[name] }] });
}

/** A VmConfig that runs one of these programs bare-metal. */
export async function bareMetalConfig(name: VmmProgram, memory = 16 << 20, nics: { backend: "null" }[] = []) {
  return { memory, harts: 1, firmware: { kind: "none" as const }, kernel: await program(name), drives: [], nics, rng: false };
}
