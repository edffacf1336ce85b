// RV64M: multiply (low, high signed/unsigned/mixed), divide and remainder
// including division by zero and INT_MIN / -1, and the W forms.
#include "harness.h"
#define MIN64 0x8000000000000000
#define MAX64 0x7fffffffffffffff
TEST_BEGIN
  TEST_RR(1, mul, 6, 2, 3)
  TEST_RR(2, mul, 0xfffffffffffffffa, -2, 3)
  TEST_RR(3, mul, 0x0000000000000001, -1, -1)
  TEST_RR(4, mul, 0x8000000000000000, MIN64, -1)
  TEST_RR(5, mul, 0x2236d88fe5618cf0, 0x123456789abcdef0, 0x0fedcba987654321)
  TEST_RR(6, mulh, 0x0000000000000000, 2, 3)
  TEST_RR(7, mulh, 0xffffffffffffffff, -2, 3)
  TEST_RR(8, mulh, 0x4000000000000000, MIN64, MIN64)
  TEST_RR(9, mulh, 0x0000000000000000, -1, -1)
  TEST_RR(10, mulh, 0xc000000000000000, MIN64, MAX64)
  TEST_RR(11, mulh, 0x0121fa00ad77d742, 0x123456789abcdef0, 0x0fedcba987654321)
  TEST_RR(12, mulhu, 0xfffffffffffffffe, -1, -1)
  TEST_RR(13, mulhu, 0x0000000000000000, 2, 3)
  TEST_RR(14, mulhu, 0x4000000000000000, MIN64, MIN64)
  TEST_RR(15, mulhu, 0x7fffffffffffffff, MIN64, -1)
  TEST_RR(16, mulhsu, 0xffffffffffffffff, -1, -1)    // -1 * (2^64-1)
  TEST_RR(17, mulhsu, 0xc000000000000000, MIN64, MIN64)
  TEST_RR(18, mulhsu, 0x0000000000000001, 2, MIN64)
  TEST_RR(19, mulhsu, 0xffffffffffffffff, -2, 3)
  TEST_RR(20, mulhsu, 0x0000000000000000, 0, -1)
  // division
  TEST_RR(21, div, 3, 20, 6)
  TEST_RR(22, div, 0xfffffffffffffffd, -20, 6)     // rounds toward zero
  TEST_RR(23, div, 0xfffffffffffffffd, 20, -6)
  TEST_RR(24, div, 3, -20, -6)
  TEST_RR(25, div, 0xffffffffffffffff, 5, 0)       // by zero: -1
  TEST_RR(26, div, MIN64, MIN64, -1)               // overflow: INT_MIN
  TEST_RR(27, divu, 3, 20, 6)
  TEST_RR(28, divu, 0x2aaaaaaaaaaaaaa7, -20, 6)
  TEST_RR(29, divu, 0xffffffffffffffff, 5, 0)      // by zero: all ones
  TEST_RR(30, divu, 0, MIN64, -1)
  TEST_RR(31, rem, 2, 20, 6)
  TEST_RR(32, rem, 0xfffffffffffffffe, -20, 6)     // sign of the dividend
  TEST_RR(33, rem, 2, 20, -6)
  TEST_RR(34, rem, 5, 5, 0)                        // by zero: dividend
  TEST_RR(35, rem, 0, MIN64, -1)                   // overflow: 0
  TEST_RR(36, remu, 2, 20, 6)
  TEST_RR(37, remu, 2, -20, 6)
  TEST_RR(38, remu, 0xffffffffffffffec, -20, 0)
  TEST_RR(39, remu, MIN64, MIN64, -1)
  // W forms: 32-bit operands, sign-extended 32-bit results
  TEST_RR(40, mulw, 0xfffffffffffffffa, -2, 3)
  TEST_RR(41, mulw, 0xffffffff80000000, 0x10000, 0x8000)
  TEST_RR(42, mulw, 0x0000000000000006, 0xffffffff00000002, 0x0000000500000003)
  TEST_RR(43, mulw, 0x0000000000000001, 0x7fffffff, 0x7fffffff)
  TEST_RR(44, divw, 0xfffffffffffffffd, -20, 6)
  TEST_RR(45, divw, 0xffffffff80000000, 0x80000000, -1)   // overflow
  TEST_RR(46, divw, 0xffffffffffffffff, 7, 0)
  TEST_RR(47, divw, 0xfffffffffffffffe, 0x123456780000000c, 0xfffffffa) // ignores upper halves
  TEST_RR(48, divuw, 0x000000007ffffff6, 0xffffffec, 2)
  TEST_RR(49, divuw, 0xffffffffffffffff, 7, 0)
  TEST_RR(50, divuw, 0xffffffff80000000, 0x80000000, 1)   // result sign-extended
  TEST_RR(51, remw, 0xfffffffffffffffe, -20, 6)
  TEST_RR(52, remw, 0, 0x80000000, -1)
  TEST_RR(53, remw, 0xffffffff80000001, 0x80000001, 0)    // by zero: sext(dividend)
  TEST_RR(54, remuw, 2, 20, 6)
  TEST_RR(55, remuw, 0xffffffffffffffec, 0xffffffec, 0)
  TEST_RR(56, remuw, 0x0000000000000001, 0xffffffff00000007, 3)
  // destination equal to a source
  TEST_CASE(57, 49, li a0, 7; mul a0, a0, a0)
  TEST_CASE(58, 1, li a0, 7; div a0, a0, a0)
TEST_END
