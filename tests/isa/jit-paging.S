// Code on pages that are aliased, remapped and rewritten, run hot enough for
// a JIT to translate it (v86's jitpagingtests): one physical code page seen
// at three virtual pages (user-executable, supervisor-executable, a writable
// data alias), then rewritten through the data alias (fence.i) and one
// executable page remapped to another physical page (sfence.vma). Each call
// runs a 1000-iteration loop; the value returned tells which code ran.
// tests/jit/lockstep.test.ts also runs it with the JIT forced.
#include "harness.h"
#include "vm.h"

#define VA 0x40000000
#define PAGE(i) (VA + (i) * 4096)
#define SUM_1000 500500
#define ADDI_A0_2 0x00250513  // addi a0, a0, 2
#define CALL(va) li t0, va; jalr t0

TEST_BEGIN
  // root[1] -> l1 -> l0; root[2]: identity gigapage (this code), root[3]: user alias
  SET_PTE_LABEL(pt_root, 1, pt_l1, PTE_V)
  SET_PTE_IMM(pt_root, 2, 0x80000000, PTE_LEAF(PTE_RWX))
  SET_PTE_IMM(pt_root, 3, 0x80000000, PTE_LEAF(PTE_RWX | PTE_U))
  SET_PTE_LABEL(pt_l1, 0, pt_l0, PTE_V)
  SET_PTE_LABEL(pt_l0, 0, code_a, PTE_LEAF(PTE_X | PTE_R | PTE_U)) // user code
  SET_PTE_LABEL(pt_l0, 1, code_a, PTE_LEAF(PTE_X | PTE_R))         // the same code for S
  SET_PTE_LABEL(pt_l0, 2, code_a, PTE_LEAF(PTE_R | PTE_W))         // its data alias
  SET_SATP(SATP_SV39, pt_root)

  // U-mode, three hot calls of the code at PAGE(0)
  IN_U_ALIAS(1, CALL(PAGE(0)); CALL(PAGE(0)); CALL(PAGE(0)); mv s3, a0)
  CHECK_IMM(2, s3, SUM_1000 + 1)
  // S-mode through the other virtual page: the same physical code
  IN_MODE(3, PRV_S, CALL(PAGE(1)); CALL(PAGE(1)); mv s3, a0)
  CHECK_IMM(4, s3, SUM_1000 + 1)
  // rewrite `addi a0, a0, 1` through the data alias, then fence.i
  IN_MODE(5, PRV_S, li t0, PAGE(2); la t1, patch_a; la t2, code_a; sub t1, t1, t2; add t0, t0, t1; \
    li t1, ADDI_A0_2; sw t1, 0(t0); fence.i; CALL(PAGE(1)); mv s3, a0)
  CHECK_IMM(6, s3, SUM_1000 + 2)
  IN_U_ALIAS(7, CALL(PAGE(0)); mv s3, a0)
  CHECK_IMM(8, s3, SUM_1000 + 2)
  // remap PAGE(1) to another physical page: the S alias now runs code_b
  SET_PTE_LABEL(pt_l0, 1, code_b, PTE_LEAF(PTE_X | PTE_R))
  IN_MODE(9, PRV_S, sfence.vma; CALL(PAGE(1)); CALL(PAGE(1)); mv s3, a0)
  CHECK_IMM(10, s3, SUM_1000 + 3)
  // and PAGE(0) still runs code_a
  IN_U_ALIAS(11, CALL(PAGE(0)); mv s3, a0)
  CHECK_IMM(12, s3, SUM_1000 + 2)
  // map it back: code_a again at PAGE(1)
  SET_PTE_LABEL(pt_l0, 1, code_a, PTE_LEAF(PTE_X | PTE_R))
  IN_MODE(13, PRV_S, sfence.vma; CALL(PAGE(1)); mv s3, a0)
  CHECK_IMM(14, s3, SUM_1000 + 2)
TEST_END

  .data
  .balign 4096
pt_root: .space 4096
pt_l1: .space 4096
pt_l0: .space 4096

  // Two pages of code (writable: the link script's image is RWX).
  .section .text.jitpages, "ax"
  .option push
  .option norvc
  .balign 4096
code_a:
  li a0, 0
  li t0, 1000
1: add a0, a0, t0
  addi t0, t0, -1
  bnez t0, 1b
patch_a:
  addi a0, a0, 1
  ret
  .balign 4096
code_b:
  li a0, 0
  li t0, 1000
1: add a0, a0, t0
  addi t0, t0, -1
  bnez t0, 1b
  addi a0, a0, 3
  ret
  .balign 4096
  .option pop
