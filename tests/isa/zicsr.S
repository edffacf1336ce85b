// Zicsr: csrrw/csrrs/csrrc and the immediate forms (old value returned, new
// value written), rs1 = x0 / uimm = 0 not writing (so allowed on read-only
// CSRs), writes to read-only CSRs and accesses to missing CSRs raising
// illegal instruction with the instruction in mtval, privilege checks.
#include "harness.h"
TEST_BEGIN
  csrr s10, mscratch               // the trap handler's save area: restored below
  // register forms on mscratch
  TEST_CASE(1, 0x1111, li t0, 0x1111; csrw mscratch, t0; li t0, 0x2222; csrrw a0, mscratch, t0)
  TEST_CASE(2, 0x2222, csrr a0, mscratch)
  TEST_CASE(3, 0x2222, li t0, 0x0f0f; csrrs a0, mscratch, t0)
  TEST_CASE(4, 0x2f2f, csrr a0, mscratch)
  TEST_CASE(5, 0x2f2f, li t0, 0x2200; csrrc a0, mscratch, t0)
  TEST_CASE(6, 0x0d2f, csrr a0, mscratch)
  TEST_CASE(7, 0xffffffffffffffff, li t0, -1; csrw mscratch, t0; csrr a0, mscratch)
  // immediate forms (5-bit zero-extended)
  TEST_CASE(8, 0xffffffffffffffff, csrrwi a0, mscratch, 31)
  TEST_CASE(9, 31, csrr a0, mscratch)
  TEST_CASE(10, 31, csrrci a0, mscratch, 5)
  TEST_CASE(11, 26, csrr a0, mscratch)
  TEST_CASE(12, 26, csrrsi a0, mscratch, 1)
  TEST_CASE(13, 27, csrr a0, mscratch)
  TEST_CASE(14, 27, csrrsi a0, mscratch, 0)         // uimm 0: no write
  TEST_CASE(15, 27, csrrci a0, mscratch, 0)
  TEST_CASE(16, 27, csrrs a0, mscratch, x0)
  TEST_CASE(17, 27, csrr a0, mscratch)
  // rd = x0: the write still happens
  TEST_CASE(18, 0x55, li t0, 0x55; csrrw x0, mscratch, t0; csrr a0, mscratch)
  // rd == rs1: old value returned, new value from the old register contents
  TEST_CASE(19, 0x55, li a0, 0x66; csrrw a0, mscratch, a0)
  TEST_CASE(20, 0x66, csrr a0, mscratch)
  csrw mscratch, s10
  // supervisor CSRs from M-mode
  TEST_CASE(21, 0xabcdef, li t0, 0xabcdef; csrw sscratch, t0; csrr a0, sscratch)
  // read-only CSRs: reads with rs1 = x0 / uimm = 0 are fine
  TEST_CASE(22, 0, csrrs a0, mvendorid, x0)
  TEST_CASE(23, 0, csrrsi a0, mhartid, 0)
  TEST_CASE(24, 0, csrrc a0, mhartid, x0)
  TEST_CASE(25, 0, csrrci a0, mhartid, 0)
  TEST_CASE(26, 1, csrrs a0, cycle, x0; snez a0, a0)
  // writes to read-only CSRs: illegal, mtval = instruction
  TEST_TRAP_TVAL_IMM(27, CAUSE_ILLEGAL_INSTRUCTION, 0xf1101073, csrw mvendorid, zero)
  TEST_TRAP_TVAL_IMM(28, CAUSE_ILLEGAL_INSTRUCTION, 0xf1405573, csrrwi a0, mhartid, 0)
  TEST_TRAP_TVAL_IMM(29, CAUSE_ILLEGAL_INSTRUCTION, 0xc000d073, csrwi cycle, 1)
  TEST_TRAP_TVAL_IMM(30, CAUSE_ILLEGAL_INSTRUCTION, 0xc010a073, li ra, 3; csrs time, ra)
  TEST_TRAP_TVAL_IMM(31, CAUSE_ILLEGAL_INSTRUCTION, 0xc021f073, csrci instret, 3)
  TEST_TRAP_TVAL_IMM(32, CAUSE_ILLEGAL_INSTRUCTION, 0xf120a573, li ra, 1; csrrs a0, marchid, ra)
  // a trapping CSR instruction does not write rd
  TEST_CASE(33, 0x1234, li a0, 0x1234; TRY(csrrw a0, mimpid, a0))
  // missing CSRs
  TEST_TRAP_TVAL_IMM(34, CAUSE_ILLEGAL_INSTRUCTION, 0x8ff02573, csrr a0, 0x8ff)
  TEST_TRAP_TVAL_IMM(35, CAUSE_ILLEGAL_INSTRUCTION, 0x0ff02573, csrr a0, 0x0ff)
  // pmpaddr16: QEMU 7.2 has 16 PMP entries and traps; the spec lets the
  // CSRs of unimplemented entries read as zero (Typevisor). Either way:
  TEST_CASE(36, 1, li a0, 0x55; TRY(csrr a0, 0x3c0); LOAD_WORD(t0, trap_cause); li t1, 0xff; beq t0, t1, 1f; addi t0, t0, -CAUSE_ILLEGAL_INSTRUCTION; seqz a0, t0; j 2f; 1: seqz a0, a0; 2:)
  LOAD_WORD(s1, trap_cause)
  REPORT("pmpaddr16-read-cause", s1)
  TEST_TRAP_TVAL_IMM(37, CAUSE_ILLEGAL_INSTRUCTION, 0x3a102573, csrr a0, pmpcfg1) // odd pmpcfg on RV64
  // privilege: S-mode cannot touch M CSRs, U-mode cannot touch S CSRs
  TEST_TRAP_IN_MODE(38, PRV_S, CAUSE_ILLEGAL_INSTRUCTION, csrr a0, mscratch)
  LOAD_WORD(s0, trap_tval)
  CHECK_IMM(39, s0, 0x34002573)
  TEST_TRAP_IN_MODE(40, PRV_U, CAUSE_ILLEGAL_INSTRUCTION, csrr a0, sscratch)
  LOAD_WORD(s0, trap_tval)
  CHECK_IMM(41, s0, 0x14002573)
  TEST_TRAP_IN_MODE(42, PRV_S, CAUSE_ILLEGAL_INSTRUCTION, csrw mstatus, zero)
  TEST_TRAP_IN_MODE(43, PRV_U, CAUSE_ILLEGAL_INSTRUCTION, csrr a0, sstatus)
  // S-mode can use its own CSRs
  li t0, 0x777
  csrw sscratch, t0
  IN_MODE(44, PRV_S, csrrw s1, sscratch, zero)
  CHECK_IMM(45, s1, 0x777)
  TEST_CASE(46, 0, csrr a0, sscratch)
  // U-mode can use fcsr
  IN_MODE(47, PRV_U, csrwi fflags, 0x15; csrr s1, fcsr)
  CHECK_IMM(48, s1, 0x15)
  csrw fcsr, zero
TEST_END
