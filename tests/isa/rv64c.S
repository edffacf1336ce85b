// RV64C: every compressed instruction written explicitly, the reserved
// encodings (all-zero and zero-immediate forms) raising illegal instruction
// with the 16-bit encoding in mtval, and HINT encodings executing as no-ops.
#include "harness.h"
TEST_BEGIN
  mv s11, sp                       // harness stack, restored at the end
  la sp, c_stack + 256
  la s1, c_data
  // loads / stores (register-based, x8..x15)
  TEST_CASE(1, 0xffffffff87654321, c.lw a0, 0(s1))
  TEST_CASE(2, 0x0fedcba987654321, c.ld a0, 0(s1))
  TEST_CASE(3, 0x000000000fedcba9, c.lw a0, 4(s1))
  TEST_CASE(4, 0x1111111122222222, c.ld a0, 8(s1))
  TEST_CASE(5, 0x0000000012345678, li a2, 0x12345678; c.sw a2, 124(s1); lwu a0, 124(s1))
  TEST_CASE(6, 0x0123456789abcdef, li a2, 0x0123456789abcdef; c.sd a2, 248(s1); ld a0, 248(s1))
  TEST_CASE(7, 0x400921fb54442d18, c.fld fa0, 16(s1); fmv.x.d a0, fa0)
  TEST_CASE(8, 0x400921fb54442d18, c.fsd fa0, 24(s1); ld a0, 24(s1))
  // stack-pointer based
  TEST_CASE(9, 0x5a5a5a5a5a5a5a5a, li a2, 0x5a5a5a5a5a5a5a5a; c.sdsp a2, 504(sp); c.ldsp a0, 504(sp))
  TEST_CASE(10, 0xffffffff80000001, li a2, 0x80000001; c.swsp a2, 252(sp); c.lwsp a0, 252(sp))
  TEST_CASE(11, 0xc000000000000000, li a2, 0xc000000000000000; fmv.d.x fa1, a2; c.fsdsp fa1, 8(sp); c.fldsp fa2, 8(sp); fmv.x.d a0, fa2)
  TEST_CASE(12, 0xc000000000000000, ld a0, 8(sp))
  TEST_CASE(13, 0x7f, li t0, 0x7f; sd t0, 0(sp); c.ldsp a0, 0(sp))
  // immediates
  TEST_CASE(14, 0xffffffffffffffe0, c.li a0, -32)
  TEST_CASE(15, 31, c.li a0, 31)
  TEST_CASE(16, 0x0000000000001000 - 0x1000 + 0x1f000, c.lui a0, 0x1f)
  TEST_CASE(17, 0xfffffffffffe0000, c.lui a0, 0xfffe0)
  TEST_CASE(18, 0xfffffffffffff000, c.lui a0, 0xfffff)
  TEST_CASE(19, 11, li a0, 10; c.addi a0, 1)
  TEST_CASE(20, 0xffffffffffffffe0 + 10, li a0, 10; c.addi a0, -32)
  TEST_CASE(21, 0xffffffff80000000, li a0, 0x7fffffff; c.addiw a0, 1)
  TEST_CASE(22, 0x0000000000000005, li a0, 0x100000005; c.addiw a0, 0)     // sext.w
  TEST_CASE(23, 496, mv t0, sp; c.addi16sp sp, 496; sub a0, sp, t0; mv sp, t0)
  TEST_CASE(24, -512, mv t0, sp; c.addi16sp sp, -512; sub a0, sp, t0; mv sp, t0)
  TEST_CASE(25, 1020, c.addi4spn a0, sp, 1020; sub a0, a0, sp)
  TEST_CASE(26, 4, c.addi4spn a0, sp, 4; sub a0, a0, sp)
  // shifts and logic on x8..x15
  TEST_CASE(27, 0x8000000000000000, li a0, 1; c.slli a0, 63)
  TEST_CASE(28, 0x0000000100000000, li a0, 1; c.slli a0, 32)
  TEST_CASE(29, 0x0000000000000001, li a0, 0x8000000000000000; c.srli a0, 63)
  TEST_CASE(30, 0x0000000080000000, li a0, 0x8000000000000000; c.srli a0, 32)
  TEST_CASE(31, 0xffffffffffffffff, li a0, 0x8000000000000000; c.srai a0, 63)
  TEST_CASE(32, 0xffffffff80000000, li a0, 0x8000000000000000; c.srai a0, 32)
  TEST_CASE(33, 0x0000000000000010, li a0, 0x30; c.andi a0, 0x11)
  TEST_CASE(34, 0xfffffffffffffff0, li a0, -1; c.andi a0, -16)
  TEST_CASE(35, 0xfffffffffffffffe, li a0, 2; li a1, 4; c.sub a0, a1)
  TEST_CASE(36, 0x6, li a0, 3; li a1, 5; c.xor a0, a1)
  TEST_CASE(37, 0x7, li a0, 3; li a1, 5; c.or a0, a1)
  TEST_CASE(38, 0x1, li a0, 3; li a1, 5; c.and a0, a1)
  TEST_CASE(39, 0xffffffff80000000, li a0, 0x7fffffff; li a1, 1; c.addw a0, a1)
  TEST_CASE(40, 0x000000007fffffff, li a0, 0x80000000; li a1, 1; c.subw a0, a1)
  TEST_CASE(41, 0xffffffffffffffff, li a0, 0; li a1, 1; c.subw a0, a1)
  // register moves and adds on any register
  TEST_CASE(42, 0x123456789, li t3, 0x123456789; c.mv a0, t3)
  TEST_CASE(43, 0x200000000, li t3, 0x100000000; li t4, 0x100000000; c.add t3, t4; mv a0, t3)
  TEST_CASE(44, 0xfff, li ra, 0xfff; c.mv a0, ra)
  TEST_CASE(45, 12, li s7, 4; c.slli s7, 1; c.addi s7, 4; mv a0, s7)
  TEST_CASE(46, 0xffffffffffffffc0, c.li t5, -32; c.slli t5, 1; mv a0, t5)
  // control transfer
  TEST_CASE(47, 1, li a0, 0; c.j 1f; li a0, 2; j 2f; 1: li a0, 1; 2:)
  TEST_CASE(48, 1, li a0, 0; li s0, 0; c.beqz s0, 1f; li a0, 2; j 2f; 1: li a0, 1; 2:)
  TEST_CASE(49, 3, li a0, 3; li s0, 1; c.beqz s0, 1f; j 2f; 1: li a0, 2; 2:)
  TEST_CASE(50, 1, li a0, 0; li s0, -1; c.bnez s0, 1f; li a0, 2; j 2f; 1: li a0, 1; 2:)
  TEST_CASE(51, 3, li a0, 3; li s0, 0; c.bnez s0, 1f; j 2f; 1: li a0, 2; 2:)
  TEST_CASE(52, 4, li a0, 0; li s0, 1; 1: c.addi a0, 1; c.addi s0, 1; li t0, 5; bne s0, t0, 1b)   // backward
  TEST_CASE(53, 7, la t0, 1f; li a0, 0; c.jr t0; li a0, 5; 1: addi a0, a0, 7)
  // c.jalr: link is pc + 2
  TEST_CASE(54, 0, la t0, 2f; 1: c.jalr t0; li a0, 9; j 3f; 2: la t1, 1b; addi t1, t1, 2; sub a0, ra, t1; 3:)
  TEST_CASE(55, 77, la t0, c_func; c.jalr t0)
  // c.nop
  TEST_CASE(56, 8, li a0, 8; c.nop; c.nop)
  // c.ebreak
  TEST_TRAP(57, CAUSE_BREAKPOINT, c.ebreak)
  // all-zero halfword: illegal instruction, mtval 0
  TEST_TRAP_TVAL_IMM(58, CAUSE_ILLEGAL_INSTRUCTION, 0, .half 0; .half 0)
  // reserved encodings
  TEST_TRAP_TVAL_IMM(59, CAUSE_ILLEGAL_INSTRUCTION, 0x0004, .half 0x0004; c.nop)  // c.addi4spn imm 0
  TEST_TRAP_TVAL_IMM(60, CAUSE_ILLEGAL_INSTRUCTION, 0x6081, .half 0x6081; c.nop)  // c.lui imm 0
  TEST_TRAP_TVAL_IMM(61, CAUSE_ILLEGAL_INSTRUCTION, 0x6101, .half 0x6101; c.nop)  // c.addi16sp imm 0
  TEST_TRAP_TVAL_IMM(62, CAUSE_ILLEGAL_INSTRUCTION, 0x2001, .half 0x2001; c.nop)  // c.addiw rd 0
  TEST_TRAP_TVAL_IMM(63, CAUSE_ILLEGAL_INSTRUCTION, 0x4002, .half 0x4002; c.nop)  // c.lwsp rd 0
  TEST_TRAP_TVAL_IMM(64, CAUSE_ILLEGAL_INSTRUCTION, 0x6002, .half 0x6002; c.nop)  // c.ldsp rd 0
  TEST_TRAP_TVAL_IMM(65, CAUSE_ILLEGAL_INSTRUCTION, 0x8002, .half 0x8002; c.nop)  // c.jr x0
  // HINTs: no effect
  TEST_CASE(66, 21, li a0, 21; .half 0x0005; .half 0x4005; .half 0x0006; c.nop)   // c.nop imm, c.li x0, c.slli x0
  TEST_CASE(67, 0x1234, li s0, 0x1234; .half 0x0402; .half 0x8001 | (0 << 7); mv a0, s0)  // c.slli64/c.srli64 s0
  TEST_CASE(68, 22, li a0, 22; .half 0x802a)                                   // c.mv x0, a0
  TEST_CASE(69, 23, li a0, 23; .half 0x902a)                                   // c.add x0, a0
  // mixing 16- and 32-bit instructions at 2-byte alignment
  TEST_CASE(70, 6, li a0, 0; c.addi a0, 1; .option push; .option norvc; addi a0, a0, 2; .option pop; c.addi a0, 3)
  mv sp, s11
TEST_END

c_func:
  c.li a0, 0
  c.addi a0, 31
  c.addi a0, 31
  c.addi a0, 15
  c.jr ra

  .data
  .balign 16
c_data:
  .dword 0x0fedcba987654321
  .dword 0x1111111122222222
  .dword 0x400921fb54442d18
  .space 256
  .bss
  .balign 16
c_stack: .space 1024
