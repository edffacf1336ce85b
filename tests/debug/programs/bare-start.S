/* Entry of gdb-bare.c on the virt board (M-mode, --bios none): hart 0 gets a stack and calls main; others park. */
  .section .text.init
  .globl _start
_start:
  csrr t0, mhartid
  bnez t0, park
  la sp, stack_top
  call main
park:
  wfi
  j park
  .bss
  .balign 16
  .space 8192
stack_top:
