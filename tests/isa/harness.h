// Bare-metal test harness for tests/isa/*.S, run as `-bios none -kernel` on
// the virt board (QEMU or Typevisor). Starts in M-mode, sets up a trap
// handler, then runs the program's `TEST_BEGIN` ... `TEST_END` body.
//
// Result convention: the code inside TEST_CASE leaves its result in a0.
// A failure prints a line on the UART naming the case, then writes
// (case << 16) | 0x3333 to the finisher, so the exit status is the case
// number (keep case numbers in 1..255). Success prints "PASS" and writes
// 0x5555 (exit status 0).
//
// Reserved by the harness: gp (current case number). t6 is clobbered by the
// checks, t0..t2 by the mode-switch and trap macros. Checks run in M-mode.
// Comments use // because cpp reads `#` at the start of a line.

#define FINISHER_BASE 0x100000
#define UART_BASE 0x10000000
#define CLINT_BASE 0x2000000
#define CLINT_MSIP (CLINT_BASE + 0x0)
#define CLINT_MTIMECMP (CLINT_BASE + 0x4000)
#define CLINT_MTIME (CLINT_BASE + 0xbff8)

#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

#define MSTATUS_SIE (1 << 1)
#define MSTATUS_MIE (1 << 3)
#define MSTATUS_SPIE (1 << 5)
#define MSTATUS_MPIE (1 << 7)
#define MSTATUS_SPP (1 << 8)
#define MSTATUS_MPP (3 << 11)
#define MSTATUS_FS (3 << 13)
#define MSTATUS_MPRV (1 << 17)
#define MSTATUS_SUM (1 << 18)
#define MSTATUS_MXR (1 << 19)
#define MSTATUS_TVM (1 << 20)
#define MSTATUS_TW (1 << 21)
#define MSTATUS_TSR (1 << 22)

#define CAUSE_MISALIGNED_FETCH 0
#define CAUSE_FETCH_ACCESS 1
#define CAUSE_ILLEGAL_INSTRUCTION 2
#define CAUSE_BREAKPOINT 3
#define CAUSE_MISALIGNED_LOAD 4
#define CAUSE_LOAD_ACCESS 5
#define CAUSE_MISALIGNED_STORE 6
#define CAUSE_STORE_ACCESS 7
#define CAUSE_USER_ECALL 8
#define CAUSE_SUPERVISOR_ECALL 9
#define CAUSE_MACHINE_ECALL 11
#define CAUSE_FETCH_PAGE_FAULT 12
#define CAUSE_LOAD_PAGE_FAULT 13
#define CAUSE_STORE_PAGE_FAULT 15

#define IRQ_S_SOFT 1
#define IRQ_M_SOFT 3
#define IRQ_S_TIMER 5
#define IRQ_M_TIMER 7
#define IRQ_S_EXT 9
#define IRQ_M_EXT 11
#define MIP_SSIP (1 << IRQ_S_SOFT)
#define MIP_MSIP (1 << IRQ_M_SOFT)
#define MIP_STIP (1 << IRQ_S_TIMER)
#define MIP_MTIP (1 << IRQ_M_TIMER)
#define MIP_SEIP (1 << IRQ_S_EXT)
#define MIP_MEIP (1 << IRQ_M_EXT)

#define INTERRUPT_BIT (1 << 63)

#define TESTNUM gp

// ---------------------------------------------------------------- checks

// Runs `code` (statements separated by `;`) and compares a0 with `expected`.
#define TEST_CASE(n, expected, ...) \
  li TESTNUM, n; \
  __VA_ARGS__; \
  li t6, expected; \
  bne a0, t6, fail_value

// Compares register `got` with register `want` (want must not be a0 or t6).
#define CHECK_REG(n, got, want) \
  li TESTNUM, n; \
  mv a0, got; \
  mv t6, want; \
  bne a0, t6, fail_value

// Compares register `got` with constant `expected` (got must not be t6).
#define CHECK_IMM(n, got, expected) \
  li TESTNUM, n; \
  mv a0, got; \
  li t6, expected; \
  bne a0, t6, fail_value

// Register-register, register-immediate and unary operations on a1/a2.
#define TEST_RR(n, op, expected, v1, v2) TEST_CASE(n, expected, li a1, v1; li a2, v2; op a0, a1, a2)
#define TEST_RI(n, op, expected, v1, imm) TEST_CASE(n, expected, li a1, v1; op a0, a1, imm)
#define TEST_R(n, op, expected, v1) TEST_CASE(n, expected, li a1, v1; op a0, a1)

// Prints "REPORT key 0x<value of reg>" for behaviour the test file checks per
// target (where QEMU 7.2 and the specification differ). Clobbers a0..a4 and
// t0..t2.
#define REPORT(key, reg) \
  mv a0, reg; \
  la a1, 7776f; \
  call report_value; \
  .pushsection .rodata; 7776: .asciz key; .popsection

// Loads the 64-bit word at `label` into `reg`.
#define LOAD_WORD(reg, label) la reg, label; ld reg, 0(reg)

// ---------------------------------------------------------------- traps
// The M-mode handler records every synchronous exception in trap_cause,
// trap_tval, trap_epc, trap_mstatus (the value of mstatus after the trap
// was taken, so MPP/MPIE show where it came from) and counts it in
// trap_count. If trap_recover holds an address the handler resumes there in
// M-mode with mstatus.MPRV cleared (and clears trap_recover); otherwise the
// trap was unexpected and the program fails. All registers are preserved
// across the handler.

// Runs `code` in M-mode expecting a synchronous exception with mcause `cause`.
#define TEST_TRAP(n, cause, ...) \
  li TESTNUM, n; \
  la t0, 7770f; \
  la t1, trap_recover; \
  sd t0, 0(t1); \
  __VA_ARGS__; \
  j fail_no_trap; \
7770: \
  li t6, cause; \
  LOAD_WORD(a0, trap_cause); \
  bne a0, t6, fail_cause

// As TEST_TRAP, plus checks mtval against the register `tval_reg`
// (computed by `code`; not a0/t6).
#define TEST_TRAP_TVAL(n, cause, tval_reg, ...) \
  TEST_TRAP(n, cause, __VA_ARGS__); \
  LOAD_WORD(a0, trap_tval); \
  mv t6, tval_reg; \
  bne a0, t6, fail_tval

// As TEST_TRAP, plus checks mtval against a constant.
#define TEST_TRAP_TVAL_IMM(n, cause, tval, ...) \
  TEST_TRAP(n, cause, __VA_ARGS__); \
  LOAD_WORD(a0, trap_tval); \
  li t6, tval; \
  bne a0, t6, fail_tval

// Runs `code` allowing one trap: afterwards trap_cause holds the mcause, or
// 0xff if nothing trapped (execution then continued after `code`).
#define TRY(...) \
  la t0, 7777f; \
  la t1, trap_recover; \
  sd t0, 0(t1); \
  li t0, 0xff; \
  la t1, trap_cause; \
  sd t0, 0(t1); \
  __VA_ARGS__; \
7777: \
  la t1, trap_recover; \
  sd zero, 0(t1)

// Sets MPP to `mode` and mrets to label `target`.
#define ENTER_MODE(mode, target) \
  li t0, MSTATUS_MPP; \
  csrc mstatus, t0; \
  li t0, ((mode) << 11); \
  csrs mstatus, t0; \
  la t0, target; \
  csrw mepc, t0; \
  mret

// Runs `code` in `mode` (PRV_S or PRV_U); the code ends with an ecall that
// brings the hart back to M-mode here. A different trap fails the case.
#define IN_MODE(n, mode, ...) \
  TEST_TRAP(n, (8 + (mode)), ENTER_MODE(mode, 7771f); 7771: __VA_ARGS__; ecall)

// Runs `code` in `mode` expecting a trap to M with mcause `cause`.
#define TEST_TRAP_IN_MODE(n, mode, cause, ...) \
  TEST_TRAP(n, cause, ENTER_MODE(mode, 7772f); 7772: __VA_ARGS__; ecall)

// S-mode handler (install with INSTALL_S_HANDLER): records scause, stval,
// sepc and sstatus in s_trap_cause etc., counts in s_trap_count, and for an
// exception leaves S-mode with an ecall (which reaches M as cause 9, and the
// M handler then resumes at trap_recover). An interrupt is logged into
// s_int_log, its sie bit cleared, and the handler srets.
#define INSTALL_S_HANDLER \
  la t0, s_trap_entry; \
  csrw stvec, t0; \
  la t0, s_trap_count; \
  sd zero, 0(t0)

// Runs `code` in `mode` expecting the exception `cause` delegated to S-mode.
#define TEST_STRAP_IN_MODE(n, mode, cause, ...) \
  INSTALL_S_HANDLER; \
  TEST_TRAP(n, CAUSE_SUPERVISOR_ECALL, ENTER_MODE(mode, 7773f); 7773: __VA_ARGS__; ecall); \
  LOAD_WORD(a0, s_trap_count); \
  li t6, 1; \
  bne a0, t6, fail_no_strap; \
  LOAD_WORD(a0, s_trap_cause); \
  li t6, cause; \
  bne a0, t6, fail_cause

// Interrupts taken by the M handler are appended to int_log (the interrupt
// code) and counted in int_count; the handler clears the interrupt's bit in
// mie so it is not taken again, then mrets.
#define CLEAR_INT_LOG \
  la t0, int_count; sd zero, 0(t0); \
  la t0, s_int_count; sd zero, 0(t0)

// Waits (bounded by a large iteration count) until int_count reaches `count`.
#define WAIT_INT_COUNT(n, count) \
  li TESTNUM, n; \
  li t1, 1000000; \
7774: \
  LOAD_WORD(a0, int_count); \
  li t6, count; \
  beq a0, t6, 7775f; \
  addi t1, t1, -1; \
  bnez t1, 7774b; \
  j fail_value; \
7775:

// Checks int_log[index] == code.
#define CHECK_INT_LOG(n, index, code) \
  li TESTNUM, n; \
  la a0, int_log; \
  ld a0, ((index) * 8)(a0); \
  li t6, code; \
  bne a0, t6, fail_value

// ---------------------------------------------------------------- program

#define TEST_BEGIN \
  .text; \
  .globl test_main; \
test_main:

#define TEST_END j pass

  .section .text.init, "ax"
  .globl _start
_start:
  // keep the boot arguments (a0 = hart id, a1 = device tree) for the tests
  la t0, boot_a0
  sd a0, 0(t0)
  sd a1, 8(t0)
  la sp, harness_stack_top
  // zero .bss
  la t0, __bss_start
  la t1, __bss_end
1:
  bgeu t0, t1, 2f
  sd zero, 0(t0)
  addi t0, t0, 8
  j 1b
2:
  la t0, m_trap_entry
  csrw mtvec, t0
  la t0, harness_save_area
  csrw mscratch, t0
  // Let S and U access all of memory through PMP entry 0 (NAPOT, RWX).
  li t0, -1
  csrw pmpaddr0, t0
  li t0, 0x1f
  csrw pmpcfg0, t0
  csrw medeleg, zero
  csrw mideleg, zero
  csrw mie, zero
  csrw satp, zero
  // FP on (state Initial), fcsr clear.
  li t0, MSTATUS_FS
  csrc mstatus, t0
  li t0, (1 << 13)
  csrs mstatus, t0
  csrw fcsr, zero
  li TESTNUM, 0
  j test_main

// ------------------------------------------------------- M trap handler
  .text
  .balign 4
  .globl m_trap_entry
m_trap_entry:
  csrrw t6, mscratch, t6
  sd t0, 0(t6)
  sd t1, 8(t6)
  sd t2, 16(t6)
  sd a0, 24(t6)
  csrr t0, mcause
  bltz t0, m_interrupt
  la t1, trap_cause
  sd t0, 0(t1)
  csrr t2, mtval
  sd t2, 8(t1)
  csrr t2, mepc
  sd t2, 16(t1)
  csrr t2, mstatus
  sd t2, 24(t1)
  ld t2, 32(t1)          // trap_count
  addi t2, t2, 1
  sd t2, 32(t1)
  ld t2, 40(t1)          // trap_recover
  beqz t2, m_unexpected
  sd zero, 40(t1)
  csrw mepc, t2
  li t0, MSTATUS_MPP       // resume in M-mode ...
  csrs mstatus, t0
  li t0, MSTATUS_MPRV      // ... with MPRV off: after mret MPP is U
  csrc mstatus, t0
  j m_trap_return
m_interrupt:
  slli t0, t0, 1
  srli t0, t0, 1
  la t1, int_count
  ld t2, 0(t1)
  slli a0, t2, 3
  addi t2, t2, 1
  sd t2, 0(t1)
  la t1, int_log
  andi a0, a0, 0xf8      // int_log holds 32 entries; wrap
  add t1, t1, a0
  sd t0, 0(t1)
  li t1, 1
  sll t1, t1, t0
  csrc mie, t1
m_trap_return:
  ld t0, 0(t6)
  ld t1, 8(t6)
  ld t2, 16(t6)
  ld a0, 24(t6)
  csrrw t6, mscratch, t6
  mret

m_unexpected:
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  la a0, msg_unexpected
  call print_str
  LOAD_WORD(a0, trap_cause)
  call print_hex
  la a0, msg_mepc
  call print_str
  LOAD_WORD(a0, trap_epc)
  call print_hex
  la a0, msg_mtval
  call print_str
  LOAD_WORD(a0, trap_tval)
  call print_hex
  j fail_common

// ------------------------------------------------------- S trap handler
  .balign 4
  .globl s_trap_entry
s_trap_entry:
  csrrw t6, sscratch, t6
  la t6, harness_s_save_area
  sd t0, 0(t6)
  sd t1, 8(t6)
  sd t2, 16(t6)
  csrr t0, scause
  bltz t0, s_interrupt
  la t1, s_trap_cause
  sd t0, 0(t1)
  csrr t2, stval
  sd t2, 8(t1)
  csrr t2, sepc
  sd t2, 16(t1)
  csrr t2, sstatus
  sd t2, 24(t1)
  ld t2, 32(t1)
  addi t2, t2, 1
  sd t2, 32(t1)
  ld t0, 0(t6)
  ld t1, 8(t6)
  ld t2, 16(t6)
  csrrw t6, sscratch, t6
  ecall
s_interrupt:
  slli t0, t0, 1
  srli t0, t0, 1
  la t1, s_int_count
  ld t2, 0(t1)
  addi t2, t2, 1
  sd t2, 0(t1)
  la t1, s_int_log
  addi t2, t2, -1
  andi t2, t2, 31
  slli t2, t2, 3
  add t1, t1, t2
  sd t0, 0(t1)
  li t1, 1
  sll t1, t1, t0
  csrc sie, t1
  ld t0, 0(t6)
  ld t1, 8(t6)
  ld t2, 16(t6)
  csrrw t6, sscratch, t6
  sret

// ------------------------------------------------------- pass / fail
  .globl pass
pass:
  la a0, msg_pass
  call print_str
  call uart_drain
  li t0, FINISHER_BASE
  li t1, 0x5555
  sw t1, 0(t0)
1: j 1b

  .globl fail_value
fail_value:
  mv s0, a0
  mv s1, t6
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  call print_case
  la a0, msg_got
  call print_str
  mv a0, s0
  call print_hex
  la a0, msg_expected
  call print_str
  mv a0, s1
  call print_hex
  j fail_common

  .globl fail_no_trap
fail_no_trap:
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  la t0, trap_recover
  sd zero, 0(t0)
  call print_case
  la a0, msg_no_trap
  call print_str
  j fail_common

  .globl fail_no_strap
fail_no_strap:
  mv s0, a0
  call print_case
  la a0, msg_no_strap
  call print_str
  mv a0, s0
  call print_hex
  j fail_common

  .globl fail_cause
fail_cause:
  mv s0, a0
  mv s1, t6
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  call print_case
  la a0, msg_cause
  call print_str
  mv a0, s0
  call print_hex
  la a0, msg_expected
  call print_str
  mv a0, s1
  call print_hex
  la a0, msg_mepc
  call print_str
  LOAD_WORD(a0, trap_epc)
  call print_hex
  la a0, msg_mtval
  call print_str
  LOAD_WORD(a0, trap_tval)
  call print_hex
  j fail_common

  .globl fail_tval
fail_tval:
  mv s0, a0
  mv s1, t6
  call print_case
  la a0, msg_tval
  call print_str
  mv a0, s0
  call print_hex
  la a0, msg_expected
  call print_str
  mv a0, s1
  call print_hex
  j fail_common

fail_common:
  li a0, '\n'
  call print_char
  call uart_drain
  li t0, FINISHER_BASE
  slli t1, TESTNUM, 16
  li t2, 0x3333
  or t1, t1, t2
  beqz TESTNUM, 2f
  sw t1, 0(t0)
1: j 1b
2:
  // case 0 would read as success: report as 255
  li t1, (255 << 16) | 0x3333
  sw t1, 0(t0)
  j 1b

  .globl report_value
report_value:               // a0 = value, a1 = key; clobbers a0..a4, t0..t2
  addi sp, sp, -32
  sd ra, 0(sp)
  sd s3, 8(sp)
  sd s4, 16(sp)
  mv s4, a0
  mv s3, a1
  la a0, msg_report
  call print_str
  mv a0, s3
  call print_str
  li a0, ' '
  call print_char
  mv a0, s4
  call print_hex
  li a0, '\n'
  call print_char
  ld ra, 0(sp)
  ld s3, 8(sp)
  ld s4, 16(sp)
  addi sp, sp, 32
  ret

print_case:
  mv s2, ra
  la a0, msg_fail
  call print_str
  mv a0, TESTNUM
  call print_dec
  mv ra, s2
  ret

// ------------------------------------------------------- UART output
  .globl print_char
print_char:                 // a0 = byte; clobbers t0, t1
  li t0, UART_BASE
1:
  lbu t1, 5(t0)
  andi t1, t1, 0x20
  beqz t1, 1b
  sb a0, 0(t0)
  ret

// Waits until the UART has sent every byte (LSR.TEMT), so that the finisher
// cannot end the machine with output still queued: QEMU keeps bytes its
// stdout pipe did not take yet in the UART and drops them at exit (a busy
// reader saw "PAS" for "PASS").
  .globl uart_drain
uart_drain:                 // clobbers t0, t1
  li t0, UART_BASE
1:
  lbu t1, 5(t0)
  andi t1, t1, 0x40
  beqz t1, 1b
  ret

  .globl print_str
print_str:                  // a0 = NUL-terminated string; clobbers a0..a1, t0..t1
  mv a1, a0
  mv t2, ra
1:
  lbu a0, 0(a1)
  beqz a0, 2f
  call print_char
  addi a1, a1, 1
  j 1b
2:
  mv ra, t2
  ret

  .globl print_hex
print_hex:                  // a0 = value, printed as 0x + 16 hex digits
  mv a1, a0
  mv t2, ra
  li a0, '0'
  call print_char
  li a0, 'x'
  call print_char
  li a2, 60
1:
  srl a0, a1, a2
  andi a0, a0, 15
  li t0, 10
  blt a0, t0, 2f
  addi a0, a0, 'a' - 10 - '0'
2:
  addi a0, a0, '0'
  call print_char
  addi a2, a2, -4
  bgez a2, 1b
  mv ra, t2
  ret

  .globl print_dec
print_dec:                  // a0 = unsigned value
  mv a4, ra
  la a2, harness_dec_buf + 24
  sb zero, 0(a2)
  li a3, 10
1:
  remu a1, a0, a3
  divu a0, a0, a3
  addi a1, a1, '0'
  addi a2, a2, -1
  sb a1, 0(a2)
  bnez a0, 1b
  mv a0, a2
  call print_str
  mv ra, a4
  ret

  .section .rodata
msg_pass: .asciz "PASS\n"
msg_report: .asciz "REPORT "
msg_fail: .asciz "FAIL case "
msg_got: .asciz ": got "
msg_expected: .asciz " expected "
msg_no_trap: .asciz ": expected a trap but none was taken"
msg_no_strap: .asciz ": expected one trap into S-mode, S handler count "
msg_cause: .asciz ": trap cause "
msg_tval: .asciz ": trap tval "
msg_mepc: .asciz " mepc "
msg_mtval: .asciz " mtval "
msg_unexpected: .asciz "FAIL unexpected trap: mcause "

  .data
  .balign 16
  .globl boot_a0, boot_a1
boot_a0: .dword 0
boot_a1: .dword 0

  .bss
  .balign 16
  .globl trap_cause, trap_tval, trap_epc, trap_mstatus, trap_count, trap_recover
trap_cause: .dword 0
trap_tval: .dword 0
trap_epc: .dword 0
trap_mstatus: .dword 0
trap_count: .dword 0
trap_recover: .dword 0
  .globl s_trap_cause, s_trap_tval, s_trap_epc, s_trap_sstatus, s_trap_count
s_trap_cause: .dword 0
s_trap_tval: .dword 0
s_trap_epc: .dword 0
s_trap_sstatus: .dword 0
s_trap_count: .dword 0
  .globl int_count, int_log, s_int_count, s_int_log
int_count: .dword 0
int_log: .space 32 * 8
s_int_count: .dword 0
s_int_log: .space 32 * 8
  .globl harness_save_area, harness_s_save_area
harness_save_area: .space 64   // the handlers use bytes 0..31
harness_s_save_area: .space 64
harness_dec_buf: .space 32
  .balign 16
harness_stack: .space 4096
harness_stack_top:
