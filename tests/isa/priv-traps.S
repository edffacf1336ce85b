// Privileged traps: ecall from U/S/M (8/9/11), ebreak, illegal instruction
// with the instruction in mtval, mepc, the mstatus stack on trap entry and
// mret/sret, privileged instructions in lower modes, medeleg delegation to
// S-mode (and no delegation of traps taken in M), access faults on unmapped
// physical addresses (load 5, store 7, fetch 1, mtval = address).
#include "harness.h"

#define MPP_OF(reg) srli reg, reg, 11; andi reg, reg, 3

TEST_BEGIN
  // ecall from M: cause 11, mepc = the ecall, mtval 0
  TEST_TRAP(1, CAUSE_MACHINE_ECALL, la s1, 1f; 1: ecall)
  LOAD_WORD(s2, trap_epc)
  CHECK_REG(2, s2, s1)
  LOAD_WORD(s2, trap_tval)
  CHECK_IMM(3, s2, 0)
  LOAD_WORD(s2, trap_mstatus)
  MPP_OF(s2)
  CHECK_IMM(4, s2, PRV_M)
  // ecall from U and S
  IN_MODE(5, PRV_U, nop)
  LOAD_WORD(s2, trap_mstatus)
  MPP_OF(s2)
  CHECK_IMM(6, s2, PRV_U)
  IN_MODE(7, PRV_S, nop)
  LOAD_WORD(s2, trap_mstatus)
  MPP_OF(s2)
  CHECK_IMM(8, s2, PRV_S)
  // ebreak: cause 3, mepc = the ebreak. mtval is 0 or the pc (QEMU 7.2: 0)
  TEST_TRAP(9, CAUSE_BREAKPOINT, la s1, 1f; .option push; .option norvc; 1: ebreak; .option pop)
  LOAD_WORD(s2, trap_epc)
  CHECK_REG(10, s2, s1)
  LOAD_WORD(s2, trap_tval)
  TEST_CASE(11, 1, seqz a0, s2; sub t0, s2, s1; seqz t0, t0; or a0, a0, t0)
  sub s2, s2, s1
  seqz s2, s2
  REPORT("ebreak-tval-is-pc", s2)
  TEST_TRAP_IN_MODE(12, PRV_U, CAUSE_BREAKPOINT, ebreak)
  // illegal instructions: mtval holds the instruction bits
  TEST_TRAP_TVAL_IMM(13, CAUSE_ILLEGAL_INSTRUCTION, 0xffffffff, .word 0xffffffff)
  TEST_TRAP_TVAL_IMM(14, CAUSE_ILLEGAL_INSTRUCTION, 0, .word 0)
  TEST_TRAP_TVAL_IMM(15, CAUSE_ILLEGAL_INSTRUCTION, 0x0000007f - 0x7f + 0x0000003f + 0x40, .word 0x0000007f)
  TEST_TRAP_IN_MODE(16, PRV_U, CAUSE_ILLEGAL_INSTRUCTION, .word 0xffffffff)
  LOAD_WORD(s2, trap_tval)
  CHECK_IMM(17, s2, 0xffffffff)
  // privileged instructions in lower modes
  TEST_TRAP_IN_MODE(18, PRV_U, CAUSE_ILLEGAL_INSTRUCTION, mret)
  LOAD_WORD(s2, trap_tval)
  CHECK_IMM(19, s2, 0x30200073)
  TEST_TRAP_IN_MODE(20, PRV_S, CAUSE_ILLEGAL_INSTRUCTION, mret)
  TEST_TRAP_IN_MODE(21, PRV_U, CAUSE_ILLEGAL_INSTRUCTION, sret)
  LOAD_WORD(s2, trap_tval)
  CHECK_IMM(22, s2, 0x10200073)
  TEST_TRAP_IN_MODE(23, PRV_U, CAUSE_ILLEGAL_INSTRUCTION, sfence.vma)
  TEST_TRAP_IN_MODE(24, PRV_U, CAUSE_ILLEGAL_INSTRUCTION, wfi)
  // trap entry: MPIE <- MIE, MIE <- 0 (no interrupt is enabled in mie)
  li t0, MSTATUS_MIE
  csrs mstatus, t0
  TEST_TRAP(25, CAUSE_MACHINE_ECALL, ecall)
  LOAD_WORD(s2, trap_mstatus)
  TEST_CASE(26, MSTATUS_MPIE, andi a0, s2, MSTATUS_MIE | MSTATUS_MPIE)
  // mret: MIE <- MPIE, MPIE <- 1, MPP <- U
  csrr t0, mstatus
  TEST_CASE(27, MSTATUS_MIE | MSTATUS_MPIE, csrr a0, mstatus; andi a0, a0, MSTATUS_MIE | MSTATUS_MPIE)
  li t0, MSTATUS_MIE | MSTATUS_MPIE
  csrc mstatus, t0
  li t0, MSTATUS_MPIE
  csrs mstatus, t0
  IN_MODE(28, PRV_U, nop)
  LOAD_WORD(s2, trap_mstatus)
  TEST_CASE(29, MSTATUS_MPIE, andi a0, s2, MSTATUS_MIE | MSTATUS_MPIE)   // MIE was 1 in U, stacked
  li t0, MSTATUS_MIE | MSTATUS_MPIE
  csrc mstatus, t0
  // mret to U leaves MPP = U (least privileged mode)
  IN_MODE(30, PRV_U, nop)
  TEST_CASE(31, 0, la t0, 1f; csrw mepc, t0; li t0, MSTATUS_MPP; csrs mstatus, t0; mret; 1: csrr a0, mstatus; MPP_OF(a0))
  // sret from S to U: SIE <- SPIE, SPIE <- 1, SPP <- U
  TEST_TRAP_IN_MODE(32, PRV_S, CAUSE_USER_ECALL, la t0, 1f; csrw sepc, t0; li t0, MSTATUS_SPP; csrc sstatus, t0; li t0, MSTATUS_SPIE; csrs sstatus, t0; li t0, MSTATUS_SIE; csrc sstatus, t0; sret; 1: nop)
  TEST_CASE(33, PRV_U, LOAD_WORD(a0, trap_mstatus); MPP_OF(a0))     // the ecall came from U
  TEST_CASE(34, MSTATUS_SIE | MSTATUS_SPIE, LOAD_WORD(a0, trap_mstatus); andi a0, a0, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP)
  li t0, MSTATUS_SIE | MSTATUS_SPIE
  csrc mstatus, t0
  // sret from S to S (SPP = S)
  IN_MODE(35, PRV_S, la t0, 1f; csrw sepc, t0; li t0, MSTATUS_SPP; csrs sstatus, t0; sret; 1: nop)
  TEST_CASE(36, PRV_S, LOAD_WORD(a0, trap_mstatus); MPP_OF(a0))
  // sstatus is a restricted view of mstatus
  TEST_CASE(37, MSTATUS_SIE, li t0, MSTATUS_SIE; csrs sstatus, t0; csrr a0, mstatus; andi a0, a0, MSTATUS_SIE)
  TEST_CASE(38, 0, li t0, MSTATUS_MIE; csrs mstatus, t0; csrr a0, sstatus; andi a0, a0, MSTATUS_MIE | MSTATUS_MPIE; li t0, MSTATUS_MIE; csrc mstatus, t0)
  TEST_CASE(39, 0, li t0, MSTATUS_MPP; csrs sstatus, t0; csrr a0, sstatus; and a0, a0, t0)
  TEST_CASE(40, MSTATUS_MPP, li t0, MSTATUS_MPP; csrs mstatus, t0; csrr a0, mstatus; and a0, a0, t0)
  li t0, MSTATUS_SIE
  csrc sstatus, t0

  // delegation: ecall from U handled in S
  li t0, (1 << CAUSE_USER_ECALL)
  csrw medeleg, t0
  TEST_STRAP_IN_MODE(41, PRV_U, CAUSE_USER_ECALL, la s1, 1f; j 1f; 1:)
  LOAD_WORD(s2, s_trap_epc)
  CHECK_REG(42, s2, s1)                       // the ecall right after the code
  LOAD_WORD(s2, s_trap_sstatus)
  TEST_CASE(43, 0, andi a0, s2, MSTATUS_SPP)
  // illegal instruction from S, delegated: stval = instruction
  li t0, (1 << CAUSE_ILLEGAL_INSTRUCTION)
  csrw medeleg, t0
  TEST_STRAP_IN_MODE(44, PRV_S, CAUSE_ILLEGAL_INSTRUCTION, .word 0xfffffff3)
  LOAD_WORD(s2, s_trap_tval)
  CHECK_IMM(45, s2, 0xfffffff3)
  LOAD_WORD(s2, s_trap_sstatus)
  TEST_CASE(46, MSTATUS_SPP, andi a0, s2, MSTATUS_SPP)
  // breakpoint from U delegated
  li t0, (1 << CAUSE_BREAKPOINT)
  csrw medeleg, t0
  TEST_STRAP_IN_MODE(47, PRV_U, CAUSE_BREAKPOINT, ebreak)
  // not delegated: goes to M even though medeleg is set for other causes
  TEST_TRAP_IN_MODE(48, PRV_U, CAUSE_ILLEGAL_INSTRUCTION, .word 0)
  // traps taken in M-mode are never delegated
  li t0, 0xb3ff
  csrw medeleg, t0
  TEST_TRAP(49, CAUSE_ILLEGAL_INSTRUCTION, .word 0)
  TEST_TRAP(50, CAUSE_MACHINE_ECALL, ecall)
  TEST_TRAP(51, CAUSE_LOAD_ACCESS, li t1, 0; ld a0, 0(t1))
  csrw medeleg, zero
  // medeleg holds the delegable exception bits
  TEST_CASE(52, 0xb3ff, li t0, 0xb3ff; csrw medeleg, t0; csrr a0, medeleg; and a0, a0, t0; csrw medeleg, zero)

  // access faults on unmapped physical addresses
  TEST_TRAP_TVAL_IMM(53, CAUSE_LOAD_ACCESS, 0, li t1, 0; ld a0, 0(t1))
  TEST_TRAP_TVAL_IMM(54, CAUSE_STORE_ACCESS, 0, li t1, 0; sw a0, 0(t1))
  TEST_TRAP_TVAL_IMM(55, CAUSE_LOAD_ACCESS, 0x10000800, li t1, 0x10000800; lw a0, 0(t1))
  TEST_TRAP_TVAL_IMM(56, CAUSE_STORE_ACCESS, 0x10000800, li t1, 0x10000800; sb a0, 0(t1))
  TEST_TRAP_TVAL_IMM(57, CAUSE_LOAD_ACCESS, 0x10, li t1, 0x10; lbu a0, 0(t1))
  // an AMO faults as a store (7); QEMU 7.2 reports a load fault (5): reported
  TRY(li t1, 8; li t2, 5; amoadd.d a0, t2, (t1))
  LOAD_WORD(s2, trap_cause)
  REPORT("amoadd.d-access-fault-cause", s2)
  TEST_CASE(58, 8, LOAD_WORD(a0, trap_tval))
  TEST_TRAP_TVAL_IMM(59, CAUSE_FETCH_ACCESS, 0, li t1, 0; jalr t1)
  LOAD_WORD(s2, trap_epc)
  CHECK_IMM(60, s2, 0)
  TEST_TRAP_TVAL_IMM(61, CAUSE_FETCH_ACCESS, 0x20, li t1, 0x20; jr t1)
  // from U-mode, and delegated to S
  TEST_TRAP_IN_MODE(62, PRV_U, CAUSE_LOAD_ACCESS, li t1, 0; ld a0, 0(t1))
  li t0, (1 << CAUSE_STORE_ACCESS)
  csrw medeleg, t0
  TEST_STRAP_IN_MODE(63, PRV_U, CAUSE_STORE_ACCESS, li t1, 0x10000800; sd a0, 0(t1))
  LOAD_WORD(s2, s_trap_tval)
  CHECK_IMM(64, s2, 0x10000800)
  csrw medeleg, zero
  // a faulting load does not write its destination
  TEST_CASE(65, 0x1234, li a0, 0x1234; TRY(li t1, 0; ld a0, 0(t1)))
TEST_END
