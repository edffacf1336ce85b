// Sv48 translation: four levels, 4 KiB / 2 MiB / 1 GiB / 512 GiB pages, a
// misaligned 512 GiB page, A/D updates, U/S separation, faults with
// tval = VA, non-canonical addresses (bits 63..48 must equal bit 47).
#include "harness.h"
#include "vm.h"

#define VA 0x40000000
#define PAGE(i) (VA + (i) * 4096)
#define MEGA 0x40200000
#define TERA 0x0000008000000000      // root[1]: 512 GiB page at PA 0
#define TERA_BAD 0x0000010000000000  // root[2]: misaligned 512 GiB page

TEST_BEGIN
  SET_PTE_LABEL(pt_root, 0, pt_l2, PTE_V)
  SET_PTE_IMM(pt_root, 1, 0, PTE_LEAF(PTE_RWX))
  SET_PTE_IMM(pt_root, 2, 0x40000000, PTE_LEAF(PTE_RWX))
  SET_PTE_LABEL(pt_l2, 1, pt_l1, PTE_V)
  SET_PTE_IMM(pt_l2, 2, 0x80000000, PTE_LEAF(PTE_RWX))
  SET_PTE_IMM(pt_l2, 3, 0x80000000, PTE_LEAF(PTE_RWX | PTE_U))
  SET_PTE_LABEL(pt_l1, 0, pt_l0, PTE_V)
  SET_PTE_IMM(pt_l1, 1, 0x80000000, PTE_LEAF(PTE_R | PTE_W))
  SET_PTE_LABEL(pt_l0, 0, page0, PTE_V | PTE_R | PTE_W)            // A = D = 0
  SET_PTE_LABEL(pt_l0, 1, page1, PTE_LEAF(PTE_R))
  SET_PTE_LABEL(pt_l0, 2, page1, PTE_LEAF(PTE_R | PTE_W | PTE_U))
  SET_SATP(SATP_SV48, pt_root)
  TEST_CASE(1, SATP_SV48 >> 60, csrr a0, satp; srli a0, a0, 60)

  // 4 KiB through four levels; A then D set by the walk
  IN_MODE(2, PRV_S, li t0, PAGE(0); ld s1, 0(t0))
  CHECK_IMM(3, s1, 0x1111111111111111)
  TEST_CASE(4, PTE_A, LOAD_PTE(a0, pt_l0, 0); andi a0, a0, PTE_A | PTE_D)
  IN_MODE(5, PRV_S, li t0, PAGE(0); sd zero, 0(t0))
  TEST_CASE(6, PTE_A | PTE_D, LOAD_PTE(a0, pt_l0, 0); andi a0, a0, PTE_A | PTE_D)
  TEST_CASE(7, 0, la t0, page0; ld a0, 0(t0))
  // 2 MiB, 1 GiB (this code), 512 GiB pages
  la s2, page1
  li t0, 0x80000000
  sub s3, s2, t0
  li t0, MEGA
  add s3, s3, t0
  IN_MODE(8, PRV_S, ld s1, 0(s3))
  CHECK_IMM(9, s1, 0x2222222222222222)
  li t0, TERA
  add s3, s2, t0
  IN_MODE(10, PRV_S, ld s1, 0(s3))
  CHECK_IMM(11, s1, 0x2222222222222222)
  IN_MODE(12, PRV_S, li t0, TERA; add t0, t0, s2; li t1, 0x99; sd t1, 8(t0))
  TEST_CASE(13, 0x99, ld a0, 8(s2))
  // misaligned 512 GiB page
  TEST_TRAP_IN_MODE(14, PRV_S, CAUSE_LOAD_PAGE_FAULT, li t0, TERA_BAD + 0x80000000; ld a0, 0(t0))
  CHECK_TVAL(15, TERA_BAD + 0x80000000)
  // permissions
  TEST_TRAP_IN_MODE(16, PRV_S, CAUSE_STORE_PAGE_FAULT, li t0, PAGE(1); sd zero, 0(t0))
  CHECK_TVAL(17, PAGE(1))
  TEST_TRAP_IN_MODE(18, PRV_S, CAUSE_LOAD_PAGE_FAULT, li t0, PAGE(2); ld a0, 0(t0))
  IN_U_ALIAS(19, li t0, PAGE(2); ld s1, 0(t0))
  CHECK_IMM(20, s1, 0x2222222222222222)
  TEST_TRAP_IN_U_ALIAS(21, CAUSE_LOAD_PAGE_FAULT, li t0, PAGE(1); ld a0, 0(t0))
  TEST_TRAP_IN_MODE(22, PRV_S, CAUSE_FETCH_PAGE_FAULT, li t0, PAGE(1); jalr t0)
  CHECK_TVAL(23, PAGE(1))
  // unmapped and non-canonical
  TEST_TRAP_IN_MODE(24, PRV_S, CAUSE_LOAD_PAGE_FAULT, li t0, 0x0000018000000000; ld a0, 0(t0))
  TEST_TRAP_IN_MODE(25, PRV_S, CAUSE_LOAD_PAGE_FAULT, li t0, 0x0000800000000000; ld a0, 0(t0))
  CHECK_TVAL(26, 0x0000800000000000)
  TEST_TRAP_IN_MODE(27, PRV_S, CAUSE_STORE_PAGE_FAULT, li t0, 0xffff000040000000; sd a0, 0(t0))
  CHECK_TVAL(28, 0xffff000040000000)
  // an address valid in Sv48 but beyond Sv39 works here
  IN_MODE(29, PRV_S, li t0, TERA; add t0, t0, s2; ld s1, 0(t0))
  CHECK_IMM(30, s1, 0x2222222222222222)
  IN_MODE(31, PRV_S, csrw satp, zero; sfence.vma)
TEST_END

  .data
  .balign 4096
pt_root: .space 4096
pt_l2: .space 4096
pt_l1: .space 4096
pt_l0: .space 4096
page0:
  .rept 512
  .dword 0x1111111111111111
  .endr
page1:
  .rept 512
  .dword 0x2222222222222222
  .endr
