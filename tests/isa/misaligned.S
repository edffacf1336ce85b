// Misaligned loads and stores. QEMU 7.2 performs misaligned integer and FP
// loads/stores to RAM without trapping (the spec allows that or a trap);
// Typevisor must do the same. Also: misaligned accesses under Sv39 inside a
// page, across two mapped pages, and across into an unmapped page (load or
// store page fault; mtval is the original address or the start of the
// second page, both allowed; QEMU gives the latter; no partial store).
// Misaligned AMOs are in rv64a.S.
#include "harness.h"
#include "vm.h"
TEST_BEGIN
  la s0, mis_data
  la s1, mis_scratch
  TEST_CASE(1, 0x0000000000003623, lh a0, 1(s0))
  TEST_CASE(2, 0x0000000000003623, lhu a0, 1(s0))
  TEST_CASE(3, 0x000000005c493623, lw a0, 1(s0))
  TEST_CASE(4, 0x000000005c493623, lwu a0, 1(s0))
  TEST_CASE(5, 0xa895826f5c493623, ld a0, 1(s0))
  TEST_CASE(6, 0x0000000000004936, lh a0, 2(s0))
  TEST_CASE(7, 0x0000000000004936, lhu a0, 2(s0))
  TEST_CASE(8, 0x000000006f5c4936, lw a0, 2(s0))
  TEST_CASE(9, 0x000000006f5c4936, lwu a0, 2(s0))
  TEST_CASE(10, 0xbba895826f5c4936, ld a0, 2(s0))
  TEST_CASE(11, 0x0000000000005c49, lh a0, 3(s0))
  TEST_CASE(12, 0x0000000000005c49, lhu a0, 3(s0))
  TEST_CASE(13, 0xffffffff826f5c49, lw a0, 3(s0))
  TEST_CASE(14, 0x00000000826f5c49, lwu a0, 3(s0))
  TEST_CASE(15, 0xcebba895826f5c49, ld a0, 3(s0))
  TEST_CASE(16, 0x0000000000006f5c, lh a0, 4(s0))
  TEST_CASE(17, 0x0000000000006f5c, lhu a0, 4(s0))
  TEST_CASE(18, 0xffffffff95826f5c, lw a0, 4(s0))
  TEST_CASE(19, 0x0000000095826f5c, lwu a0, 4(s0))
  TEST_CASE(20, 0xe1cebba895826f5c, ld a0, 4(s0))
  TEST_CASE(21, 0xffffffffffff826f, lh a0, 5(s0))
  TEST_CASE(22, 0x000000000000826f, lhu a0, 5(s0))
  TEST_CASE(23, 0xffffffffa895826f, lw a0, 5(s0))
  TEST_CASE(24, 0x00000000a895826f, lwu a0, 5(s0))
  TEST_CASE(25, 0xf4e1cebba895826f, ld a0, 5(s0))
  TEST_CASE(26, 0xffffffffffff9582, lh a0, 6(s0))
  TEST_CASE(27, 0x0000000000009582, lhu a0, 6(s0))
  TEST_CASE(28, 0xffffffffbba89582, lw a0, 6(s0))
  TEST_CASE(29, 0x00000000bba89582, lwu a0, 6(s0))
  TEST_CASE(30, 0x07f4e1cebba89582, ld a0, 6(s0))
  TEST_CASE(31, 0xffffffffffffa895, lh a0, 7(s0))
  TEST_CASE(32, 0x000000000000a895, lhu a0, 7(s0))
  TEST_CASE(33, 0xffffffffcebba895, lw a0, 7(s0))
  TEST_CASE(34, 0x00000000cebba895, lwu a0, 7(s0))
  TEST_CASE(35, 0x1a07f4e1cebba895, ld a0, 7(s0))
  TEST_CASE(36, 0xffffffff5c493623, flw fa0, 1(s0); fmv.x.d a0, fa0)
  TEST_CASE(37, 0xa895826f5c493623, fld fa0, 1(s0); fmv.x.d a0, fa0)
  TEST_CASE(38, 0xffffffff826f5c49, flw fa0, 3(s0); fmv.x.d a0, fa0)
  TEST_CASE(39, 0xcebba895826f5c49, fld fa0, 3(s0); fmv.x.d a0, fa0)
  TEST_CASE(40, 0xffffffffa895826f, flw fa0, 5(s0); fmv.x.d a0, fa0)
  TEST_CASE(41, 0xf4e1cebba895826f, fld fa0, 5(s0); fmv.x.d a0, fa0)
  TEST_CASE(42, 0xffffffffcebba895, flw fa0, 7(s0); fmv.x.d a0, fa0)
  TEST_CASE(43, 0x1a07f4e1cebba895, fld fa0, 7(s0); fmv.x.d a0, fa0)
  TEST_CASE(44, 0x0000000000cdef00, sd zero, 0(s1); sd zero, 8(s1); li t0, 0x0123456789abcdef; sh t0, 1(s1); ld a0, 0(s1))
  TEST_CASE(45, 0x0000000000000000, ld a0, 8(s1))
  TEST_CASE(46, 0x00000089abcdef00, sd zero, 0(s1); sd zero, 8(s1); li t0, 0x0123456789abcdef; sw t0, 1(s1); ld a0, 0(s1))
  TEST_CASE(47, 0x0000000000000000, ld a0, 8(s1))
  TEST_CASE(48, 0x23456789abcdef00, sd zero, 0(s1); sd zero, 8(s1); li t0, 0x0123456789abcdef; sd t0, 1(s1); ld a0, 0(s1))
  TEST_CASE(49, 0x0000000000000001, ld a0, 8(s1))
  TEST_CASE(50, 0x00000000cdef0000, sd zero, 0(s1); sd zero, 8(s1); li t0, 0x0123456789abcdef; sh t0, 2(s1); ld a0, 0(s1))
  TEST_CASE(51, 0x0000000000000000, ld a0, 8(s1))
  TEST_CASE(52, 0x000089abcdef0000, sd zero, 0(s1); sd zero, 8(s1); li t0, 0x0123456789abcdef; sw t0, 2(s1); ld a0, 0(s1))
  TEST_CASE(53, 0x0000000000000000, ld a0, 8(s1))
  TEST_CASE(54, 0x456789abcdef0000, sd zero, 0(s1); sd zero, 8(s1); li t0, 0x0123456789abcdef; sd t0, 2(s1); ld a0, 0(s1))
  TEST_CASE(55, 0x0000000000000123, ld a0, 8(s1))
  TEST_CASE(56, 0x000000cdef000000, sd zero, 0(s1); sd zero, 8(s1); li t0, 0x0123456789abcdef; sh t0, 3(s1); ld a0, 0(s1))
  TEST_CASE(57, 0x0000000000000000, ld a0, 8(s1))
  TEST_CASE(58, 0x0089abcdef000000, sd zero, 0(s1); sd zero, 8(s1); li t0, 0x0123456789abcdef; sw t0, 3(s1); ld a0, 0(s1))
  TEST_CASE(59, 0x0000000000000000, ld a0, 8(s1))
  TEST_CASE(60, 0x6789abcdef000000, sd zero, 0(s1); sd zero, 8(s1); li t0, 0x0123456789abcdef; sd t0, 3(s1); ld a0, 0(s1))
  TEST_CASE(61, 0x0000000000012345, ld a0, 8(s1))
  TEST_CASE(62, 0x0000cdef00000000, sd zero, 0(s1); sd zero, 8(s1); li t0, 0x0123456789abcdef; sh t0, 4(s1); ld a0, 0(s1))
  TEST_CASE(63, 0x0000000000000000, ld a0, 8(s1))
  TEST_CASE(64, 0x89abcdef00000000, sd zero, 0(s1); sd zero, 8(s1); li t0, 0x0123456789abcdef; sw t0, 4(s1); ld a0, 0(s1))
  TEST_CASE(65, 0x0000000000000000, ld a0, 8(s1))
  TEST_CASE(66, 0x89abcdef00000000, sd zero, 0(s1); sd zero, 8(s1); li t0, 0x0123456789abcdef; sd t0, 4(s1); ld a0, 0(s1))
  TEST_CASE(67, 0x0000000001234567, ld a0, 8(s1))
  TEST_CASE(68, 0x00cdef0000000000, sd zero, 0(s1); sd zero, 8(s1); li t0, 0x0123456789abcdef; sh t0, 5(s1); ld a0, 0(s1))
  TEST_CASE(69, 0x0000000000000000, ld a0, 8(s1))
  TEST_CASE(70, 0xabcdef0000000000, sd zero, 0(s1); sd zero, 8(s1); li t0, 0x0123456789abcdef; sw t0, 5(s1); ld a0, 0(s1))
  TEST_CASE(71, 0x0000000000000089, ld a0, 8(s1))
  TEST_CASE(72, 0xabcdef0000000000, sd zero, 0(s1); sd zero, 8(s1); li t0, 0x0123456789abcdef; sd t0, 5(s1); ld a0, 0(s1))
  TEST_CASE(73, 0x0000000123456789, ld a0, 8(s1))
  TEST_CASE(74, 0xcdef000000000000, sd zero, 0(s1); sd zero, 8(s1); li t0, 0x0123456789abcdef; sh t0, 6(s1); ld a0, 0(s1))
  TEST_CASE(75, 0x0000000000000000, ld a0, 8(s1))
  TEST_CASE(76, 0xcdef000000000000, sd zero, 0(s1); sd zero, 8(s1); li t0, 0x0123456789abcdef; sw t0, 6(s1); ld a0, 0(s1))
  TEST_CASE(77, 0x00000000000089ab, ld a0, 8(s1))
  TEST_CASE(78, 0xcdef000000000000, sd zero, 0(s1); sd zero, 8(s1); li t0, 0x0123456789abcdef; sd t0, 6(s1); ld a0, 0(s1))
  TEST_CASE(79, 0x00000123456789ab, ld a0, 8(s1))
  TEST_CASE(80, 0xef00000000000000, sd zero, 0(s1); sd zero, 8(s1); li t0, 0x0123456789abcdef; sh t0, 7(s1); ld a0, 0(s1))
  TEST_CASE(81, 0x00000000000000cd, ld a0, 8(s1))
  TEST_CASE(82, 0xef00000000000000, sd zero, 0(s1); sd zero, 8(s1); li t0, 0x0123456789abcdef; sw t0, 7(s1); ld a0, 0(s1))
  TEST_CASE(83, 0x000000000089abcd, ld a0, 8(s1))
  TEST_CASE(84, 0xef00000000000000, sd zero, 0(s1); sd zero, 8(s1); li t0, 0x0123456789abcdef; sd t0, 7(s1); ld a0, 0(s1))
  TEST_CASE(85, 0x000123456789abcd, ld a0, 8(s1))
  TEST_CASE(86, 0x000000000000fedc, sd zero, 0(s1); sd zero, 8(s1); li t0, 0xfedcba9876543210; fmv.d.x fa0, t0; fsd fa0, 2(s1); ld a0, 8(s1))
  TEST_CASE(87, 0x0000fedcba987654, sd zero, 0(s1); sd zero, 8(s1); li t0, 0xfedcba9876543210; fmv.d.x fa0, t0; fsd fa0, 6(s1); ld a0, 8(s1))
  TEST_CASE(88, 0xcebba895826f5c49, addi a5, s0, 3; c.ld a0, 0(a5))
  TEST_CASE(89, 0xffffffffa895826f, addi a5, s0, 5; c.lw a0, 0(a5))
  TEST_CASE(90, 0xa895826f5c493623, mv s11, sp; addi sp, s0, 1; c.ldsp a0, 0(sp); mv sp, s11)
  // under Sv39 in S-mode: [1] -> l1 -> l0 with pages 0 and 1 mapped, 2 not
  SET_PTE_IMM(pt_root, 2, 0x80000000, PTE_LEAF(PTE_RWX))
  SET_PTE_LABEL(pt_root, 1, pt_l1, PTE_V)
  SET_PTE_LABEL(pt_l1, 0, pt_l0, PTE_V)
  SET_PTE_LABEL(pt_l0, 0, vm_page0, PTE_LEAF(PTE_R | PTE_W))
  SET_PTE_LABEL(pt_l0, 1, vm_page1, PTE_LEAF(PTE_R | PTE_W))
  SET_SATP(SATP_SV39, pt_root)
  la t0, vm_page0
  li t1, 0x0807060504030201
  li t2, 0xff8
  add t0, t0, t2
  sd t1, 0(t0)
  la t0, vm_page1
  li t1, 0x100f0e0d0c0b0a09
  sd t1, 0(t0)
  IN_MODE(200, PRV_S, li t0, 0x40000ffc; ld s2, 0(t0); li t0, 0x40000ff9; lw s3, 0(t0))
  CHECK_IMM(201, s2, 0x0c0b0a0908070605)
  CHECK_IMM(202, s3, 0x0000000005040302)
  IN_MODE(203, PRV_S, li t0, 0x40000ffd; li t1, -1; sw t1, 0(t0))
  TEST_CASE(204, 0xffffff0504030201, la t0, vm_page0; li t2, 0xff8; add t0, t0, t2; ld a0, 0(t0))
  TEST_CASE(205, 0x100f0e0d0c0b0aff, la t0, vm_page1; ld a0, 0(t0))
  // crossing into the unmapped page
  TEST_TRAP_IN_MODE(206, PRV_S, CAUSE_LOAD_PAGE_FAULT, li t0, 0x40001ffc; ld a0, 0(t0))
  // mtval: the access address or the second page (shown as the latter on failure)
  TEST_CASE(207, 0x40002000, LOAD_WORD(a0, trap_tval); li t0, 0x40001ffc; bne a0, t0, 1f; li a0, 0x40002000; 1:)
  TEST_TRAP_IN_MODE(208, PRV_S, CAUSE_STORE_PAGE_FAULT, li t0, 0x40001ffe; li t1, -1; sw t1, 0(t0))
  TEST_CASE(209, 0x40002000, LOAD_WORD(a0, trap_tval); li t0, 0x40001ffe; bne a0, t0, 1f; li a0, 0x40002000; 1:)
  TEST_CASE(210, 0x100f0e0d0c0b0aff, la t0, vm_page1; li t2, 0xff8; add t0, t0, t2; ld a0, 0(t0); la t0, vm_page1; ld a0, 0(t0))
  TEST_CASE(211, 0, la t0, vm_page1; li t2, 0xff8; add t0, t0, t2; ld a0, 0(t0))   // nothing written
  csrw satp, zero
TEST_END

  .data
  .balign 16
mis_data:
  .byte 0x10, 0x23, 0x36, 0x49, 0x5c, 0x6f, 0x82, 0x95, 0xa8, 0xbb, 0xce, 0xe1, 0xf4, 0x07, 0x1a, 0x2d, 0x40, 0x53, 0x66, 0x79, 0x8c, 0x9f, 0xb2, 0xc5, 0xd8, 0xeb, 0xfe, 0x11, 0x24, 0x37, 0x4a, 0x5d
mis_scratch: .space 32
  .balign 4096
pt_root: .space 4096
pt_l1: .space 4096
pt_l0: .space 4096
vm_page0: .space 4096
vm_page1: .space 4096
