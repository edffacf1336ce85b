// RV64I loads and stores: every width, sign and zero extension, positive and
// negative offsets, store widths not disturbing neighbours, x0 as target.
#include "harness.h"
TEST_BEGIN
  la s0, data
  TEST_CASE(1, 0xffffffffffffff80, lb a0, 0(s0))
  TEST_CASE(2, 0x0000000000000080, lbu a0, 0(s0))
  TEST_CASE(3, 0x000000000000007f, lb a0, 1(s0))
  TEST_CASE(4, 0x0000000000007f80, lh a0, 0(s0))
  TEST_CASE(5, 0x0000000000007f80, lhu a0, 0(s0))
  TEST_CASE(6, 0xffffffff80017f80, lw a0, 0(s0))
  TEST_CASE(7, 0x0000000080017f80, lwu a0, 0(s0))
  TEST_CASE(8, 0x7ff0000e80017f80, ld a0, 0(s0))
  TEST_CASE(9, 0x000000007ff0000e, lw a0, 4(s0))
  TEST_CASE(10, 0x0000000000007ff0, lh a0, 6(s0))
  TEST_CASE(11, 0xfffffffffffffff0, lb a0, 6(s0))
  TEST_CASE(12, 0x00000000000000f0, lbu a0, 6(s0))
  TEST_CASE(13, 0xffffffffffffffff, ld a0, 8(s0))
  TEST_CASE(14, 0x000000000000ffff, lhu a0, 10(s0))
  TEST_CASE(15, 0x00000000ffffffff, lwu a0, 12(s0))
  // negative offsets
  addi s1, s0, 16
  TEST_CASE(16, 0xffffffffffffffff, ld a0, -8(s1))
  TEST_CASE(17, 0x7ff0000e80017f80, ld a0, -16(s1))
  TEST_CASE(18, 0x000000000000007f, lbu a0, -15(s1))
  // large offsets
  la s2, big
  addi s3, s2, 2047
  TEST_CASE(19, 0x1122334455667788, ld a0, -2047(s3))
  addi s3, s2, -2000
  TEST_CASE(20, 0x1122334455667788, ld a0, 2000(s3))
  // stores of each width into a known pattern
  la s1, scratch
  li t0, -1
  TEST_CASE(21, 0xffffffffffffff12, sd t0, 0(s1); li t1, 0x12; sb t1, 0(s1); ld a0, 0(s1))
  TEST_CASE(22, 0xffffffffff1234ff, sd t0, 0(s1); li t1, 0xabcd1234; sh t1, 1(s1); ld a0, 0(s1))
  TEST_CASE(23, 0x89abcdefffffffff, sd t0, 0(s1); li t1, 0x0123456789abcdef; sw t1, 4(s1); ld a0, 0(s1))
  TEST_CASE(24, 0x0123456789abcdef, sd zero, 0(s1); li t1, 0x0123456789abcdef; sd t1, 0(s1); ld a0, 0(s1))
  TEST_CASE(25, 0xffffffffffffffff, sd t0, 8(s1); li t1, 0; sb t1, 0(s1); ld a0, 8(s1))
  TEST_CASE(26, 0x0000000000000000, sd x0, -8(s1); li t1, 0x5a; ld a0, -8(s1))
  TEST_CASE(27, 0x0000000000000000, li t1, 0x5a; sb t1, 0(s1); lb x0, 0(s1); mv a0, x0)
  // load into the base register
  TEST_CASE(28, 0x7ff0000e80017f80, la a0, data; ld a0, 0(a0))
  // store then load back each sign-extended width
  TEST_CASE(29, 0xffffffffffff8000, li t1, 0x8000; sh t1, 16(s1); lh a0, 16(s1))
  TEST_CASE(30, 0xffffffff80000000, li t1, 0x80000000; sw t1, 16(s1); lw a0, 16(s1))
TEST_END

  .data
  .balign 16
data:
  .byte 0x80, 0x7f, 0x01, 0x80, 0x0e, 0x00, 0xf0, 0x7f
  .dword -1
big:
  .dword 0x1122334455667788
  .space 4096
  .dword 0x1122334455667788
  .bss
  .balign 16
  .space 64
scratch:
  .space 64
