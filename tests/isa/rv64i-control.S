// RV64I control transfer: every branch taken and not taken (signed and
// unsigned edges), JAL/JALR link values, JALR clearing bit 0 of the target,
// JALR with rd == rs1.
#include "harness.h"

// a0 = 1 if `br a1, a2` is taken, else 0.
#define TEST_BR(n, br, taken, v1, v2) \
  TEST_CASE(n, taken, li a1, v1; li a2, v2; li a0, 1; br a1, a2, 1f; li a0, 0; 1:)

TEST_BEGIN
  TEST_BR(1, beq, 1, 5, 5)
  TEST_BR(2, beq, 0, 5, 6)
  TEST_BR(3, beq, 0, 0, 0x100000000)
  TEST_BR(4, bne, 1, 0, 0x100000000)
  TEST_BR(5, bne, 0, -1, -1)
  TEST_BR(6, blt, 1, -1, 0)
  TEST_BR(7, blt, 0, 0, -1)
  TEST_BR(8, blt, 0, 7, 7)
  TEST_BR(9, blt, 1, 0x8000000000000000, 0x7fffffffffffffff)
  TEST_BR(10, bge, 1, 7, 7)
  TEST_BR(11, bge, 1, 0, -1)
  TEST_BR(12, bge, 0, -1, 0)
  TEST_BR(13, bltu, 0, -1, 0)
  TEST_BR(14, bltu, 1, 0, -1)
  TEST_BR(15, bltu, 0, 3, 3)
  TEST_BR(16, bltu, 1, 0x7fffffffffffffff, 0x8000000000000000)
  TEST_BR(17, bgeu, 1, -1, 0)
  TEST_BR(18, bgeu, 0, 0, -1)
  TEST_BR(19, bgeu, 1, 3, 3)
  // backward branch: count a loop
  TEST_CASE(20, 10, li a0, 0; li a1, 10; 1: addi a0, a0, 1; blt a0, a1, 1b)
  // JAL: link = pc + 4, lands on target
  TEST_CASE(21, 0, 1: jal a1, 2f; li a0, 99; j 3f; 2: la a2, 1b; addi a2, a2, 4; sub a0, a1, a2; 3:)
  TEST_CASE(22, 7, li a0, 7; jal x0, 1f; li a0, 8; 1:)
  // JALR with an offset; link is pc + 4
  TEST_CASE(23, 0, la a1, 2f; addi a1, a1, 8; 1: jalr a2, -8(a1); li a0, 98; j 3f; 2: la a3, 1b; addi a3, a3, 4; sub a0, a2, a3; 3:)
  // JALR target with bit 0 set: bit 0 is cleared, no exception
  TEST_CASE(24, 5, la a1, 1f; addi a1, a1, 1; li a0, 0; jalr ra, 0(a1); li a0, 97; j 2f; .balign 4; 1: li a0, 5; 2:)
  // JALR odd target reached through an odd immediate
  TEST_CASE(25, 6, la a1, 1f; li a0, 0; jalr ra, 1(a1); li a0, 96; j 2f; .balign 4; 1: li a0, 6; 2:)
  // JALR where rd == rs1: target computed from the old value
  TEST_CASE(26, 1, la a1, 1f; jalr a1, 0(a1); li a0, 95; j 2f; 1: la a2, 1b; sub a0, a2, a1; snez a0, a0; 2:)
  TEST_CASE(27, 0, la a1, 1f; 3: jalr a1, 0(a1); li a0, 95; j 2f; 1: la a2, 3b; addi a2, a2, 4; sub a0, a1, a2; 2:)
  // call / ret through the stack
  TEST_CASE(28, 42, call 1f; j 2f; 1: li a0, 42; ret; 2:)
  // a not-taken branch with a far target still falls through
  TEST_CASE(29, 3, li a0, 3; li a1, 1; beqz a1, far_target)
  TEST_CASE(30, 4, li a0, 0; beqz a0, far_target; li a0, 5; far_back:)
TEST_END

  .text
  .space 3000
far_target:
  li a0, 4
  j far_back
