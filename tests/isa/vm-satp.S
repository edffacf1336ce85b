// satp is WARL: supported modes (Bare, Sv39, Sv48) are written; a write
// with an unsupported MODE leaves the whole register unchanged (how Linux
// probes paging modes). Sv57: QEMU 7.2 implements it, Typevisor does not;
// the mode read back is reported and checked per target in isa.test.ts.
#include "harness.h"
#include "vm.h"

#define PPN 0x0000000000080123
TEST_BEGIN
  TEST_CASE(1, 0, csrr a0, satp)
  TEST_CASE(2, SATP_SV39 | PPN, li t0, SATP_SV39 | PPN; csrw satp, t0; csrr a0, satp)
  TEST_CASE(3, SATP_SV48 | PPN, li t0, SATP_SV48 | PPN; csrw satp, t0; csrr a0, satp)
  TEST_CASE(4, SATP_SV39 | 0xfffffffffff, li t0, SATP_SV39 | 0xfffffffffff; csrw satp, t0; csrr a0, satp)   // 44-bit PPN
  // reserved modes: unchanged
  li s1, SATP_SV48 | PPN
  csrw satp, s1
  TEST_CASE(5, SATP_SV48 | PPN, li t0, (1 << 60) | 5; csrw satp, t0; csrr a0, satp)
  TEST_CASE(6, SATP_SV48 | PPN, li t0, (7 << 60) | 5; csrw satp, t0; csrr a0, satp)
  TEST_CASE(7, SATP_SV48 | PPN, li t0, (11 << 60) | 5; csrw satp, t0; csrr a0, satp)   // Sv64
  TEST_CASE(8, SATP_SV48 | PPN, li t0, (15 << 60) | 5; csrw satp, t0; csrr a0, satp)
  TEST_CASE(9, SATP_SV48 | PPN, li t0, (12 << 60); csrs satp, t0; csrr a0, satp)  // csrs: 8|4|... = 13
  // back to bare
  TEST_CASE(10, 0, csrw satp, zero; csrr a0, satp)
  // Sv57 written over Sv48
  csrw satp, s1
  li t0, SATP_SV57 | PPN
  csrw satp, t0
  csrr s2, satp
  srli s3, s2, 60
  REPORT("satp-after-sv57-write-mode", s3)
  // either accepted whole or left unchanged
  TEST_CASE(11, 1, li t0, SATP_SV57 | PPN; xor t0, t0, s2; seqz t0, t0; xor t1, s1, s2; seqz t1, t1; or a0, t0, t1)
  csrw satp, zero
TEST_END
