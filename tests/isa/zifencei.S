// FENCE variants and FENCE.I with self-modifying code: code rewritten in a
// buffer, in the instruction right after the fence.i, and in compressed form.
#include "harness.h"

#define ADDI_A0(k) (((k) << 20) | 0x513)
#define RET 0x00008067
#define C_LI_A0(k) (0x4501 | (((k) & 0x1f) << 2) | ((((k) >> 5) & 1) << 12))
#define C_RET 0x8082

TEST_BEGIN
  // fences execute as no-ops here (single hart, no I/O ordering visible)
  TEST_CASE(1, 3, li a0, 1; fence; addi a0, a0, 1; fence rw, rw; fence iorw, iorw; fence r, w; fence.tso; addi a0, a0, 1)
  TEST_CASE(2, 4, li a0, 4; .word 0x0100000f)   // pause (Zihintpause), a FENCE hint
  TEST_CASE(3, 5, li a0, 5; fence.i)

  // write a function into a buffer, run it, rewrite it, run it again
  la s0, code_buffer
  TEST_CASE(4, 1, li t0, ADDI_A0(1); sw t0, 0(s0); li t0, RET; sw t0, 4(s0); fence.i; jalr ra, 0(s0))
  TEST_CASE(5, 2, li t0, ADDI_A0(2); sw t0, 0(s0); fence.i; jalr ra, 0(s0))
  TEST_CASE(6, 0x7ff, li t0, ADDI_A0(0x7ff); sw t0, 0(s0); fence.i; jalr ra, 0(s0))
  // run it several times in a loop, changing it each time
  TEST_CASE(7, 1 + 2 + 3 + 4 + 5, li s1, 1; li s2, 0; 1: slli t0, s1, 20; ori t0, t0, 0x513; sw t0, 0(s0); fence.i; jalr ra, 0(s0); add s2, s2, a0; addi s1, s1, 1; li t1, 6; bne s1, t1, 1b; mv a0, s2)
  // compressed replacement: c.li a0, 9; c.jr ra
  TEST_CASE(8, 9, li t0, (C_RET << 16) | C_LI_A0(9); sw t0, 0(s0); fence.i; jalr ra, 0(s0))
  TEST_CASE(9, 0xfffffffffffffff0, li t0, C_LI_A0(-16); sh t0, 0(s0); fence.i; jalr ra, 0(s0))
  // rewrite the instruction right after the fence.i
  TEST_CASE(10, 33, call smc_inline)
  TEST_CASE(11, 44, li a1, ADDI_A0(44); call smc_inline_param)
  TEST_CASE(12, 55, li a1, ADDI_A0(55); call smc_inline_param)
TEST_END

  .text
  .option push
  .option norvc
smc_inline:
  la t0, 1f
  li t1, ADDI_A0(33)
  sw t1, 0(t0)
  fence.i
1:
  addi a0, x0, 0
  ret
smc_inline_param:
  la t0, 1f
  sw a1, 0(t0)
  fence.i
1:
  addi a0, x0, 0
  ret
  .option pop

  .data
  .balign 64
code_buffer:
  .space 64
