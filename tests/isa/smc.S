// Self-modifying code that has already run: a function is called (so its
// instructions are decoded and cached), then rewritten through each kind of
// store — plain, AMO, LR/SC, misaligned, FP — and, with Sv39 on, through a
// second (data-only) mapping of the same physical page, also when that
// mapping was cached writable before the page ran; after fence.i the
// new instruction must run. (An interpreter that caches decoded
// instructions must notice every one of these writes.)
#include "harness.h"
#include "vm.h"

#define ADDI_A0(k) (((k) << 20) | 0x513)
#define NOP 0x00000013
#define RET 0x00008067
#define ALIAS 0x40000000  // VA of code_page through a read/write mapping

// code_page holds `nop; addi a0, x0, k; ret`; the addi is at offset 4.
#define CALL_TWICE jalr ra, 0(s0); jalr ra, 0(s0)

TEST_BEGIN
  li t0, MSTATUS_FS
  csrs mstatus, t0
  la s0, code_page
  li t0, NOP
  sw t0, 0(s0)
  li t0, ADDI_A0(1)
  sw t0, 4(s0)
  li t0, RET
  sw t0, 8(s0)
  fence.i
  TEST_CASE(1, 1, CALL_TWICE)
  // a plain store
  TEST_CASE(2, 2, li t0, ADDI_A0(2); sw t0, 4(s0); fence.i; CALL_TWICE)
  TEST_CASE(3, 3, li t0, ADDI_A0(3); sw t0, 4(s0); fence.i; jalr ra, 0(s0))
  // AMOs: swap in a new word, then flip immediate bits
  TEST_CASE(4, 4, li t0, ADDI_A0(4); addi t1, s0, 4; amoswap.w zero, t0, (t1); fence.i; CALL_TWICE)
  TEST_CASE(5, 5, li t0, (4 ^ 5) << 20; addi t1, s0, 4; amoxor.w zero, t0, (t1); fence.i; CALL_TWICE)
  TEST_CASE(6, 0x37, li t0, 0x33 << 20; addi t1, s0, 4; amoor.w zero, t0, (t1); fence.i; CALL_TWICE)
  // LR/SC
  TEST_CASE(7, 7, li t0, ADDI_A0(7); addi t1, s0, 4; 1: lr.w t2, (t1); sc.w t2, t0, (t1); bnez t2, 1b; fence.i; CALL_TWICE)
  // a misaligned doubleword store over the addi and the ret
  TEST_CASE(8, 8, li t0, (RET << 32) | ADDI_A0(8); sd t0, 4(s0); fence.i; CALL_TWICE)
  // a misaligned word store changing the addi's immediate (bytes 6..9)
  TEST_CASE(9, 9, lw t0, 8(s0); slli t0, t0, 16; li t1, ADDI_A0(9); srli t1, t1, 16; or t0, t0, t1; sw t0, 6(s0); fence.i; CALL_TWICE)
  // FP stores
  TEST_CASE(10, 10, li t0, ADDI_A0(10); fmv.w.x ft0, t0; fsw ft0, 4(s0); fence.i; CALL_TWICE)
  // (fsd leaves `addi a0, x0, 11; ret` at offset 8, after the addi 10)
  TEST_CASE(11, 11, li t0, (RET << 32) | ADDI_A0(11); fmv.d.x ft0, t0; fsd ft0, 8(s0); fence.i; CALL_TWICE)
  // a compressed store (c.sw), and a byte store
  TEST_CASE(12, 12, li t0, RET; sw t0, 8(s0); li a2, ADDI_A0(12); c.sw a2, 4(s0); fence.i; CALL_TWICE)
  TEST_CASE(13, 13, li t0, 13 << 4; sb t0, 6(s0); fence.i; CALL_TWICE)

  // Sv39: root[2] maps RAM 1:1 (RWX, where this code runs), root[1] -> l1
  // -> l0, whose entry 0 maps code_page again at ALIAS, readable and
  // writable but not executable.
  SET_PTE_LABEL(pt_root, 1, pt_l1, PTE_V)
  SET_PTE_IMM(pt_root, 2, 0x80000000, PTE_LEAF(PTE_RWX))
  SET_PTE_LABEL(pt_l1, 0, pt_l0, PTE_V)
  SET_PTE_LABEL(pt_l0, 0, code_page, PTE_LEAF(PTE_R | PTE_W))
  SET_PTE_LABEL(pt_l0, 1, code_page2, PTE_LEAF(PTE_R | PTE_W))
  SET_SATP(SATP_SV39, pt_root)
  // run it, rewrite it through the alias, run it again
  IN_MODE(20, PRV_S, CALL_TWICE; mv s1, a0; li t0, ADDI_A0(21); li t1, ALIAS; sw t0, 4(t1); fence.i; CALL_TWICE; mv s2, a0)
  CHECK_IMM(21, s1, 13)
  CHECK_IMM(22, s2, 21)
  // code_page2 gets its code through its alias (cached writable) before it
  // ever runs; then it runs, is rewritten through the alias, runs again
  la s3, code_page2
  IN_MODE(23, PRV_S, li t1, ALIAS + 4096; li t0, NOP; sw t0, 0(t1); li t0, ADDI_A0(23); sw t0, 4(t1); li t0, RET; sw t0, 8(t1); fence.i; jalr ra, 0(s3); jalr ra, 0(s3); mv s1, a0; li t0, ADDI_A0(24); sw t0, 4(t1); fence.i; jalr ra, 0(s3); jalr ra, 0(s3); mv s2, a0)
  CHECK_IMM(24, s1, 23)
  CHECK_IMM(25, s2, 24)
  // an AMO and a misaligned store through the alias
  IN_MODE(26, PRV_S, CALL_TWICE; li t1, ALIAS + 4; li t0, ADDI_A0(26); amoswap.w zero, t0, (t1); fence.i; CALL_TWICE; mv s1, a0)
  CHECK_IMM(27, s1, 26)
  IN_MODE(28, PRV_S, CALL_TWICE; li t1, ALIAS; li t0, (RET << 32) | ADDI_A0(28); sd t0, 4(t1); fence.i; CALL_TWICE; mv s1, a0)
  CHECK_IMM(29, s1, 28)
  csrw satp, zero
  sfence.vma
TEST_END

  .data
  .balign 4096
code_page:
  .space 4096
code_page2:
  .space 4096
pt_root:
  .space 4096
pt_l1:
  .space 4096
pt_l0:
  .space 4096
