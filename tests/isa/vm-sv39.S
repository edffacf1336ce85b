// Sv39 translation, built by the test: 4 KiB pages through three levels,
// 2 MiB and 1 GiB superpages, a misaligned superpage, invalid and reserved
// PTEs, permission faults (load 13, store 15, fetch 12, tval = VA), U/S
// separation, SUM, MXR, MPRV, TVM, A/D bits set by the hardware walk as QEMU
// does (A on any access, D on a store), sfence.vma after a PTE change, and
// non-canonical addresses.
#include "harness.h"
#include "vm.h"

#define VA 0x40000000
#define PAGE(i) (VA + (i) * 4096)
#define MEGA 0x40200000      // 2 MiB page -> RAM base
#define MEGA_BAD 0x40400000  // 2 MiB page with a misaligned PPN

TEST_BEGIN
  // root: [1] -> l1 table, [2] -> identity 1 GiB of RAM, [3] -> user alias of it
  SET_PTE_LABEL(pt_root, 1, pt_l1, PTE_V)
  SET_PTE_IMM(pt_root, 2, 0x80000000, PTE_LEAF(PTE_RWX))
  SET_PTE_IMM(pt_root, 3, 0x80000000, PTE_LEAF(PTE_RWX | PTE_U))
  SET_PTE_LABEL(pt_l1, 0, pt_l0, PTE_V)
  SET_PTE_IMM(pt_l1, 1, 0x80000000, PTE_LEAF(PTE_R | PTE_W))
  SET_PTE_IMM(pt_l1, 2, 0x80001000, PTE_LEAF(PTE_R | PTE_W))
  SET_PTE_LABEL(pt_l0, 0, page0, PTE_V | PTE_R | PTE_W)          // A = D = 0
  SET_PTE_LABEL(pt_l0, 1, page1, PTE_LEAF(PTE_R))                 // read-only
  SET_PTE_LABEL(pt_l0, 2, page2, PTE_R | PTE_W | PTE_A | PTE_D)   // V = 0
  SET_PTE_LABEL(pt_l0, 3, page3, PTE_LEAF(PTE_X))                 // execute-only
  SET_PTE_LABEL(pt_l0, 4, page4, PTE_LEAF(PTE_R | PTE_W | PTE_U)) // user page
  SET_PTE_LABEL(pt_l0, 5, code_page, PTE_LEAF(PTE_X | PTE_R))     // executable
  SET_PTE_LABEL(pt_l0, 6, code_page, PTE_LEAF(PTE_R))             // same code, not executable
  SET_PTE_LABEL(pt_l0, 7, page2, PTE_LEAF(PTE_W))                 // W without R: reserved
  SET_PTE_LABEL(pt_l0, 8, page4, PTE_LEAF(PTE_R | PTE_W))         // 8 and 9 alias page4
  SET_PTE_LABEL(pt_l0, 9, page4, PTE_LEAF(PTE_R | PTE_W))
  SET_PTE_LABEL(pt_l0, 10, code_page, PTE_LEAF(PTE_X | PTE_U))    // user code
  // writable code page content: `li a0, 0x5a; ret` at code_page
  SET_SATP(SATP_SV39, pt_root)
  TEST_CASE(1, SATP_SV39, csrr a0, satp; srli a0, a0, 60; slli a0, a0, 60)

  // M-mode is not translated
  TEST_CASE(2, 0x1111111111111111, la t0, page0; ld a0, 0(t0))
  // S-mode loads through each level
  IN_MODE(3, PRV_S, li t0, PAGE(0); ld s1, 0(t0))
  CHECK_IMM(4, s1, 0x1111111111111111)
  // the walk set A but not D
  TEST_CASE(5, PTE_A, LOAD_PTE(a0, pt_l0, 0); andi a0, a0, PTE_A | PTE_D)
  IN_MODE(6, PRV_S, li t0, PAGE(0); li t1, 0x1212; sd t1, 8(t0))
  TEST_CASE(7, PTE_A | PTE_D, LOAD_PTE(a0, pt_l0, 0); andi a0, a0, PTE_A | PTE_D)
  TEST_CASE(8, 0x1212, la t0, page0; ld a0, 8(t0))
  // a store to a clean page sets A and D together
  SET_PTE_LABEL(pt_l0, 0, page0, PTE_V | PTE_R | PTE_W)
  IN_MODE(9, PRV_S, sfence.vma; li t0, PAGE(0); sd zero, 16(t0))
  TEST_CASE(10, PTE_A | PTE_D, LOAD_PTE(a0, pt_l0, 0); andi a0, a0, PTE_A | PTE_D)
  // superpages: 1 GiB identity (where this code runs) and 2 MiB
  la s2, page1
  li t0, 0x80000000
  sub s2, s2, t0
  li t0, MEGA
  add s2, s2, t0                   // VA of page1 through the megapage
  IN_MODE(11, PRV_S, ld s1, 0(s2))
  CHECK_IMM(12, s1, 0x2222222222222222)
  IN_MODE(13, PRV_S, la t0, page1; ld s1, 0(t0))
  CHECK_IMM(14, s1, 0x2222222222222222)
  // misaligned megapage: page fault
  TEST_TRAP_IN_MODE(15, PRV_S, CAUSE_LOAD_PAGE_FAULT, li t0, MEGA_BAD + 0x10; ld a0, 0(t0))
  CHECK_TVAL(16, MEGA_BAD + 0x10)
  // read-only: store page fault; the failed store did not set D
  TEST_TRAP_IN_MODE(17, PRV_S, CAUSE_STORE_PAGE_FAULT, li t0, PAGE(1) + 8; sd zero, 0(t0))
  CHECK_TVAL(18, PAGE(1) + 8)
  TEST_CASE(19, PTE_A | PTE_D, LOAD_PTE(a0, pt_l0, 1); andi a0, a0, PTE_A | PTE_D)
  // invalid PTE
  TEST_TRAP_IN_MODE(20, PRV_S, CAUSE_LOAD_PAGE_FAULT, li t0, PAGE(2) + 0x7f8; ld a0, 0(t0))
  CHECK_TVAL(21, PAGE(2) + 0x7f8)
  TEST_TRAP_IN_MODE(22, PRV_S, CAUSE_STORE_PAGE_FAULT, li t0, PAGE(2); sb zero, 0(t0))
  // an AMO on a read-only page is a store page fault
  TEST_TRAP_IN_MODE(23, PRV_S, CAUSE_STORE_PAGE_FAULT, li t0, PAGE(1); amoadd.d a0, a0, (t0))
  // W without R is reserved
  TEST_TRAP_IN_MODE(24, PRV_S, CAUSE_LOAD_PAGE_FAULT, li t0, PAGE(7); ld a0, 0(t0))
  TEST_TRAP_IN_MODE(25, PRV_S, CAUSE_STORE_PAGE_FAULT, li t0, PAGE(7); sd a0, 0(t0))
  // unmapped (no l0 entry): page fault, not access fault
  TEST_TRAP_IN_MODE(26, PRV_S, CAUSE_LOAD_PAGE_FAULT, li t0, PAGE(100); ld a0, 0(t0))
  TEST_TRAP_IN_MODE(27, PRV_S, CAUSE_LOAD_PAGE_FAULT, li t0, 0x1000; ld a0, 0(t0))   // root entry 0 invalid
  // execute-only: loads fault unless MXR
  TEST_TRAP_IN_MODE(28, PRV_S, CAUSE_LOAD_PAGE_FAULT, li t0, PAGE(3); ld a0, 0(t0))
  li t0, MSTATUS_MXR
  csrs mstatus, t0
  IN_MODE(29, PRV_S, li t0, PAGE(3); ld s1, 0(t0))
  CHECK_IMM(30, s1, 0x3333333333333333)
  TEST_TRAP_IN_MODE(31, PRV_S, CAUSE_STORE_PAGE_FAULT, li t0, PAGE(3); sd a0, 0(t0))
  li t0, MSTATUS_MXR
  csrc mstatus, t0
  // fetch: executable page runs, non-executable faults with tval = mepc = VA
  la t0, code_page
  li t1, 0x05a00513               // li a0, 0x5a
  sw t1, 0(t0)
  li t1, 0x00008067               // ret
  sw t1, 4(t0)
  fence.i
  IN_MODE(32, PRV_S, li a0, 0; li t0, PAGE(5); jalr t0; mv s1, a0)
  CHECK_IMM(33, s1, 0x5a)
  TEST_TRAP_IN_MODE(34, PRV_S, CAUSE_FETCH_PAGE_FAULT, li t0, PAGE(6); jalr t0)
  CHECK_TVAL(35, PAGE(6))
  LOAD_WORD(s1, trap_epc)
  CHECK_IMM(36, s1, PAGE(6))
  TEST_TRAP_IN_MODE(37, PRV_S, CAUSE_FETCH_PAGE_FAULT, li t0, PAGE(2); jalr t0)
  // U/S separation: S cannot touch a U page unless SUM, never execute it
  TEST_TRAP_IN_MODE(38, PRV_S, CAUSE_LOAD_PAGE_FAULT, li t0, PAGE(4); ld a0, 0(t0))
  TEST_TRAP_IN_MODE(39, PRV_S, CAUSE_STORE_PAGE_FAULT, li t0, PAGE(4); sd a0, 0(t0))
  li t0, MSTATUS_SUM
  csrs mstatus, t0
  IN_MODE(40, PRV_S, li t0, PAGE(4); ld s1, 0(t0))
  CHECK_IMM(41, s1, 0x4444444444444444)
  TEST_TRAP_IN_MODE(42, PRV_S, CAUSE_FETCH_PAGE_FAULT, li t0, PAGE(10); jalr t0)
  li t0, MSTATUS_SUM
  csrc mstatus, t0
  // U-mode: runs from the user alias, touches U pages, not S pages
  IN_U_ALIAS(43, li t0, PAGE(4); ld s1, 0(t0))
  CHECK_IMM(44, s1, 0x4444444444444444)
  TEST_TRAP_IN_U_ALIAS(45, CAUSE_LOAD_PAGE_FAULT, li t0, PAGE(1); ld a0, 0(t0))
  CHECK_TVAL(46, PAGE(1))
  TEST_TRAP_IN_U_ALIAS(47, CAUSE_STORE_PAGE_FAULT, li t0, PAGE(0); sd a0, 0(t0))
  IN_U_ALIAS(48, li a0, 0; li t0, PAGE(10); jalr t0; mv s1, a0)
  CHECK_IMM(49, s1, 0x5a)
  TEST_TRAP_IN_U_ALIAS(50, CAUSE_FETCH_PAGE_FAULT, li t0, PAGE(5); jalr t0)
  // U fetch from the (non-U) identity map faults
  TEST_TRAP(51, CAUSE_FETCH_PAGE_FAULT, ENTER_MODE(PRV_U, 1f); 1: nop)
  // sfence.vma makes a changed PTE visible
  IN_MODE(52, PRV_S, li t0, PAGE(8); ld s1, 0(t0))
  CHECK_IMM(53, s1, 0x4444444444444444)
  SET_PTE_LABEL(pt_l0, 8, page1, PTE_LEAF(PTE_R))
  IN_MODE(54, PRV_S, li t0, PAGE(8); sfence.vma t0, zero; ld s1, 0(t0))
  CHECK_IMM(55, s1, 0x2222222222222222)
  SET_PTE_LABEL(pt_l0, 9, page1, PTE_LEAF(PTE_R))
  IN_MODE(56, PRV_S, sfence.vma; li t0, PAGE(9); ld s1, 0(t0))
  CHECK_IMM(57, s1, 0x2222222222222222)
  // removing a mapping + sfence.vma: page fault
  SET_PTE_IMM(pt_l0, 9, 0, 0)
  TEST_TRAP_IN_MODE(58, PRV_S, CAUSE_LOAD_PAGE_FAULT, sfence.vma; li t0, PAGE(9); ld a0, 0(t0))
  // non-canonical addresses (bits 63..39 not all equal to bit 38)
  TEST_TRAP_IN_MODE(59, PRV_S, CAUSE_LOAD_PAGE_FAULT, li t0, 0x0000008000000000; ld a0, 0(t0))
  CHECK_TVAL(60, 0x0000008000000000)
  TEST_TRAP_IN_MODE(61, PRV_S, CAUSE_STORE_PAGE_FAULT, li t0, 0xffffff0040000000; sd a0, 0(t0))
  // MPRV: M-mode loads and stores translated as MPP
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li t0, (PRV_S << 11) | MSTATUS_MPRV
  csrs mstatus, t0
  li t0, PAGE(1)
  ld s1, 0(t0)
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  CHECK_IMM(62, s1, 0x2222222222222222)
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li t0, (PRV_S << 11) | MSTATUS_MPRV
  csrs mstatus, t0
  TEST_TRAP(63, CAUSE_LOAD_PAGE_FAULT, li t0, PAGE(2); ld a0, 0(t0))    // MPP is M in the handler
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  CHECK_TVAL(64, PAGE(2))
  li t0, MSTATUS_MPP
  csrc mstatus, t0                        // MPP = U
  // as U: the S page faults (MPRV is set inside, after trap_recover, which
  // an MPRV store as U could not write)
  TEST_TRAP(65, CAUSE_LOAD_PAGE_FAULT, li t0, MSTATUS_MPRV; csrs mstatus, t0; li t0, PAGE(1); ld a0, 0(t0))
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  // MPRV with MPP = M: no translation
  li t0, MSTATUS_MPP | MSTATUS_MPRV
  csrs mstatus, t0
  la t0, page3
  ld s1, 0(t0)
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  CHECK_IMM(66, s1, 0x3333333333333333)
  // TVM: satp and sfence.vma are illegal in S
  li t0, MSTATUS_TVM
  csrs mstatus, t0
  TEST_TRAP_IN_MODE(67, PRV_S, CAUSE_ILLEGAL_INSTRUCTION, csrr a0, satp)
  TEST_TRAP_IN_MODE(68, PRV_S, CAUSE_ILLEGAL_INSTRUCTION, sfence.vma)
  li t0, MSTATUS_TVM
  csrc mstatus, t0
  IN_MODE(69, PRV_S, csrr s1, satp)
  TEST_CASE(70, SATP_SV39 >> 60, srli a0, s1, 60)
  // delegated page fault handled in S, stval = VA
  li t0, (1 << CAUSE_LOAD_PAGE_FAULT)
  csrw medeleg, t0
  TEST_STRAP_IN_MODE(71, PRV_S, CAUSE_LOAD_PAGE_FAULT, li t0, PAGE(2) + 4; lw a0, 0(t0))
  LOAD_WORD(s1, s_trap_tval)
  CHECK_IMM(72, s1, PAGE(2) + 4)
  csrw medeleg, zero
  // satp = 0: bare again
  IN_MODE(73, PRV_S, csrw satp, zero; sfence.vma; la t0, page3; ld s1, 0(t0))
  CHECK_IMM(74, s1, 0x3333333333333333)
TEST_END

  .data
  .balign 4096
pt_root: .space 4096
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
page2:
  .rept 512
  .dword 0x5555555555555555
  .endr
page3:
  .rept 512
  .dword 0x3333333333333333
  .endr
page4:
  .rept 512
  .dword 0x4444444444444444
  .endr
code_page: .space 4096
