// Start-up for the bare-metal benchmarks: stack, zeroed .bss, FPU on,
// main(), then the test finisher with main's return value (0 = pass).
  .section .text.init, "ax"
  .globl _start
_start:
  la sp, stack_top
  la t0, __bss_start
  la t1, __bss_end
1:
  bgeu t0, t1, 2f
  sd zero, 0(t0)
  addi t0, t0, 8
  j 1b
2:
  li t0, (1 << 13)          // mstatus.FS = Initial
  csrs mstatus, t0
  csrw fcsr, zero
  call main
  li t0, 0x100000
  beqz a0, 3f
  slli a0, a0, 16
  li t1, 0x3333
  or a0, a0, t1
  sw a0, 0(t0)
  j 4f
3:
  li t1, 0x5555
  sw t1, 0(t0)
4:
  j 4b

  .bss
  .balign 16
  .space 65536
stack_top:
