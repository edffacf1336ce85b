/**
 * Bare-metal programs for the CLI tests, assembled at test time (cached in
 * the temp directory by tests/support/toolchain.ts; nothing binary lives in
 * the repository). Each runs in M-mode from 0x8000_0000 under --bios none.
 */
import { fileURLToPath } from "node:url";
import { buildElf } from "../support/toolchain.ts";

const UART = 0x10000000;
const FINISHER = 0x100000;

/** Prints "hello" polling LSR.THRE, then fails with code 3. */
const hello = `
  .section .text.init
  .globl _start
_start:
  csrr t0, mhartid
  bnez t0, park
  lla a0, msg
  li t1, ${UART}
next:
  lbu t2, 0(a0)
  beqz t2, done
wait:
  lbu t3, 5(t1)
  andi t3, t3, 0x20
  beqz t3, wait
  sb t2, 0(t1)
  addi a0, a0, 1
  j next
done:
  li t1, ${FINISHER}
  li t2, (3 << 16) | 0x3333
  sw t2, 0(t1)
park:
  wfi
  j park
  .section .rodata
msg:
  .string "hello"
`;

/**
 * Interrupt-driven echo: UART receive interrupts through the PLIC (source
 * 10, context 0 = hart 0 M-mode); each byte b comes back as b + 1, and "q"
 * fails with code 7. Prints ">" once it is ready for input.
 */
const echo = `
  .section .text.init
  .globl _start
_start:
  li t1, ${UART}
  li t0, 1
  sb t0, 2(t1)             # FCR: FIFOs on
  li t2, 0x0c000000
  sw t0, 40(t2)            # priority[10] = 1
  li t3, 0x0c002000
  li t4, 1 << 10
  sw t4, 0(t3)             # context 0 enables source 10
  li t3, 0x0c200000
  sw zero, 0(t3)           # threshold 0
  sb t0, 1(t1)             # IER: received data
  lla t0, trap
  csrw mtvec, t0
  li t0, 1 << 11
  csrs mie, t0             # MEIE
  li t0, '>'
  sb t0, 0(t1)
  csrsi mstatus, 8
idle:
  wfi
  j idle
  .align 2
trap:
  li t3, 0x0c200004
  lw t4, 0(t3)             # claim
rx:
  lbu t5, 5(t1)
  andi t5, t5, 1
  beqz t5, complete
  lbu t5, 0(t1)
  li t6, 'q'
  beq t5, t6, quit
  addi t5, t5, 1
  sb t5, 0(t1)
  j rx
complete:
  sw t4, 0(t3)
  mret
quit:
  li t1, ${FINISHER}
  li t2, (7 << 16) | 0x3333
  sw t2, 0(t1)
  j idle
`;

/** Five CLINT timer interrupts 50 ms apart, each printing "t"; then passes. */
const timer = `
  .section .text.init
  .globl _start
_start:
  lla t0, trap
  csrw mtvec, t0
  li s0, 5
  li s1, 0x2000000
  li s2, ${UART}
  call arm
  li t0, 1 << 7
  csrs mie, t0             # MTIE
  csrsi mstatus, 8
idle:
  wfi
  j idle
arm:
  li t1, 0xbff8
  add t1, t1, s1
  ld t2, 0(t1)             # mtime
  li t3, 500000
  add t2, t2, t3
  li t1, 0x4000
  add t1, t1, s1
  sd t2, 0(t1)             # mtimecmp = mtime + 50 ms
  ret
  .align 2
trap:
  li t0, 't'
  sb t0, 0(s2)
  addi s0, s0, -1
  beqz s0, finish
  call arm
  mret
finish:
  li t1, ${FINISHER}
  li t2, 0x5555
  sw t2, 0(t1)
  j idle
`;

/**
 * Counts boots in a RAM word outside its image (RAM survives a reset, the
 * image is reloaded): prints the count; the first boot asks for a reset,
 * the second fails with code 5.
 */
const reset = `
  .section .text.init
  .globl _start
_start:
  li s2, ${UART}
  li t1, 0x80100000
  lw t2, 0(t1)
  addi t3, t2, 1
  sw t3, 0(t1)
  addi t4, t3, '0'
  sb t4, 0(s2)
  li t1, ${FINISHER}
  bnez t2, second
  li t0, 0x7777
  sw t0, 0(t1)
1: j 1b
second:
  li t0, (5 << 16) | 0x3333
  sw t0, 0(t1)
2: j 2b
`;

/** Prints a1 (the device tree address) as 16 hex digits, then passes. */
const dtbAddress = `
  .section .text.init
  .globl _start
_start:
  mv s0, a1
  li s1, 60
  li t1, ${UART}
loop:
  srl t2, s0, s1
  andi t2, t2, 15
  li t3, 10
  blt t2, t3, digit
  addi t2, t2, 'a' - 10 - '0'
digit:
  addi t2, t2, '0'
  sb t2, 0(t1)
  addi s1, s1, -4
  bgez s1, loop
  li t1, ${FINISHER}
  li t2, 0x5555
  sw t2, 0(t1)
1: j 1b
`;

/**
 * An S-mode payload for firmware boots (linked at RAM + 2 MiB by
 * s-mode.ld): prints its hart id and DTB address arguments' presence through
 * the SBI legacy console, then shuts down with SBI SRST.
 */
const sbiHello = `
  .section .text.init
  .globl _start
_start:
  mv s1, a1
  lla s0, msg
1:
  lbu a0, 0(s0)
  beqz a0, 2f
  li a7, 1                 # legacy console_putchar
  ecall
  addi s0, s0, 1
  j 1b
2:
  li a0, 'n'               # "y" when a1 holds the device tree address
  lwu t0, 0(s1)
  li t1, 0xedfe0dd0        # FDT magic as a little-endian load sees it
  bne t0, t1, 3f
  li a0, 'y'
3:
  li a7, 1
  ecall
  li a7, 0x53525354        # SRST
  li a6, 0
  li a0, 0                 # shutdown
  li a1, 0
  ecall
4:
  j 4b
  .section .rodata
msg:
  .string "S-mode hello, dtb "
`;

const SOURCES = { hello, echo, timer, reset, dtbAddress, sbiHello };
export type ProgramName = keyof typeof SOURCES;

const LINK_SCRIPTS: Partial<Record<ProgramName, string>> = {
  sbiHello: fileURLToPath(new URL("./s-mode.ld", import.meta.url)),
};

export function program(name: ProgramName): Promise<string> {
  return buildElf({ sources: [{ name: `cli-${name}.S`, text: SOURCES[name] }], linkScript: LINK_SCRIPTS[name] });
}
