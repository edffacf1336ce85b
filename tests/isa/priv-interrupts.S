// Interrupts: CLINT msip/mtimecmp driving mip.MSIP/MTIP, writable mip bits,
// sip/sie as views filtered by mideleg, priority order (MSI > MTI > SSI >
// STI), global enables per mode (M masked by mstatus.MIE only in M; S-level
// interrupts masked in M; delegated ones taken in U regardless of SIE),
// timer interrupt after wfi, wfi waking without a trap when MIE = 0,
// mtvec/stvec vectored mode, mstatus.TW and TSR.
#include "harness.h"

#define SET_MTIMECMP(reg) li t0, CLINT_MTIMECMP; sd reg, 0(t0)
#define SET_MSIP(v) li t0, CLINT_MSIP; li t1, v; sw t1, 0(t0)

TEST_BEGIN
  li s0, -1
  SET_MTIMECMP(s0)
  // CLINT drives MSIP and MTIP
  TEST_CASE(1, 0, csrr a0, mip; andi a0, a0, MIP_MTIP | MIP_MSIP)
  TEST_CASE(2, MIP_MSIP, SET_MSIP(1); csrr a0, mip; andi a0, a0, MIP_MTIP | MIP_MSIP)
  TEST_CASE(3, 1, li t0, CLINT_MSIP; lw a0, 0(t0))
  TEST_CASE(4, 0, SET_MSIP(0); csrr a0, mip; andi a0, a0, MIP_MTIP | MIP_MSIP)
  TEST_CASE(5, MIP_MTIP, SET_MTIMECMP(zero); csrr a0, mip; andi a0, a0, MIP_MTIP | MIP_MSIP)
  TEST_CASE(6, 0, SET_MTIMECMP(s0); csrr a0, mip; andi a0, a0, MIP_MTIP)
  // mtime advances and mtimecmp reads back
  TEST_CASE(7, 1, li t0, CLINT_MTIME; ld t1, 0(t0); 1: ld t2, 0(t0); beq t1, t2, 1b; sltu a0, t1, t2)
  TEST_CASE(8, 0x123456789, li t1, 0x123456789; SET_MTIMECMP(t1); li t0, CLINT_MTIMECMP; ld a0, 0(t0); SET_MTIMECMP(s0))
  // mip: MSIP/MTIP are not writable by csr instructions; SSIP/STIP/SEIP are
  TEST_CASE(9, 0, li t0, MIP_MSIP | MIP_MTIP; csrs mip, t0; csrr a0, mip; andi a0, a0, MIP_MSIP | MIP_MTIP)
  TEST_CASE(10, MIP_SSIP | MIP_STIP | MIP_SEIP, li t0, MIP_SSIP | MIP_STIP | MIP_SEIP; csrs mip, t0; csrr a0, mip; li t0, 0xaaa; and a0, a0, t0)
  // sip shows only delegated bits
  csrw mideleg, zero
  TEST_CASE(11, 0, csrr a0, sip; andi a0, a0, 0x222)
  TEST_CASE(12, MIP_SSIP, li t0, MIP_SSIP; csrw mideleg, t0; csrr a0, sip; andi a0, a0, 0x222)
  TEST_CASE(13, 0x222, li t0, 0x222; csrw mideleg, t0; csrr a0, sip; andi a0, a0, 0x222)
  TEST_CASE(14, 0, csrc sip, MIP_SSIP; csrr a0, mip; andi a0, a0, MIP_SSIP)    // S can clear SSIP
  TEST_CASE(15, MIP_SSIP, csrs sip, MIP_SSIP; csrr a0, mip; andi a0, a0, MIP_SSIP)
  li t0, 0x222
  csrc mip, t0
  csrw mideleg, zero
  // mideleg: S bits delegable, M bits not; mie: all six standard bits
  TEST_CASE(16, 0x222, li t0, 0xaaa; csrw mideleg, t0; csrr a0, mideleg; li t0, 0xaaa; and a0, a0, t0; csrw mideleg, zero)
  TEST_CASE(17, 0xaaa, li t0, 0xaaa; csrw mie, t0; csrr a0, mie; li t0, 0xaaa; and a0, a0, t0)
  // sie: view of mie through mideleg
  TEST_CASE(18, 0, csrr a0, sie; li t0, 0xaaa; and a0, a0, t0)
  TEST_CASE(19, 0x222, li t0, 0x222; csrw mideleg, t0; csrr a0, sie; li t0, 0xaaa; and a0, a0, t0)
  TEST_CASE(20, 0x888, csrw sie, zero; csrr a0, mie; li t0, 0xaaa; and a0, a0, t0)
  csrw mideleg, zero
  csrw mie, zero

  // priority: all four pending, enabled, then MIE set
  CLEAR_INT_LOG
  SET_MSIP(1)
  SET_MTIMECMP(zero)
  li t0, MIP_SSIP | MIP_STIP
  csrs mip, t0
  li t0, MIP_MSIP | MIP_MTIP | MIP_SSIP | MIP_STIP
  csrw mie, t0
  TEST_CASE(21, 0, nop; nop; LOAD_WORD(a0, int_count))      // MIE = 0 in M: nothing taken
  li t0, MSTATUS_MIE
  csrs mstatus, t0
  WAIT_INT_COUNT(22, 4)
  csrc mstatus, MSTATUS_MIE
  // Each taken once. The spec's order is MSI, MTI, SSI, STI; QEMU 7.2 (no
  // AIA) takes the lowest-numbered pending interrupt first. The order is
  // reported as log[0] | log[1] << 8 | ... and checked per target.
  TEST_CASE(23, (1 << 1) | (1 << 3) | (1 << 5) | (1 << 7), la t1, int_log; li a0, 0; li t2, 4; 1: ld t0, 0(t1); bset a0, a0, t0; addi t1, t1, 8; addi t2, t2, -1; bnez t2, 1b)
  la t1, int_log
  ld s1, 0(t1)
  ld t0, 8(t1)
  slli t0, t0, 8
  or s1, s1, t0
  ld t0, 16(t1)
  slli t0, t0, 16
  or s1, s1, t0
  ld t0, 24(t1)
  slli t0, t0, 24
  or s1, s1, t0
  REPORT("m-interrupt-order", s1)
  // MSI before MTI either way
  TEST_CASE(24, 1, li t0, 0x0307; mv a0, s1; 1: andi t1, a0, 0xff; li t2, IRQ_M_SOFT; beq t1, t2, 2f; li t2, IRQ_M_TIMER; beq t1, t2, 3f; srli a0, a0, 8; j 1b; 2: li a0, 1; j 4f; 3: li a0, 0; 4:)
  TEST_CASE(27, MIP_MSIP | MIP_MTIP | MIP_SSIP | MIP_STIP, csrr a0, mip; li t0, 0xaaa; and a0, a0, t0)   // still pending
  SET_MSIP(0)
  SET_MTIMECMP(s0)
  li t0, MIP_SSIP | MIP_STIP
  csrc mip, t0
  TEST_CASE(28, 0, csrr a0, mip; li t0, 0xaaa; and a0, a0, t0)

  // an M interrupt is taken in U even though mstatus.MIE = 0
  CLEAR_INT_LOG
  li t0, MIP_MSIP
  csrw mie, t0
  SET_MSIP(1)
  IN_MODE(29, PRV_U, li t1, 1000000; 1: LOAD_WORD(t2, int_count); bnez t2, 2f; addi t1, t1, -1; bnez t1, 1b; 2:)
  TEST_CASE(30, 1, LOAD_WORD(a0, int_count))
  CHECK_INT_LOG(31, 0, IRQ_M_SOFT)
  SET_MSIP(0)
  // interrupt mepc: the interrupted instruction resumes (the loop finished)

  // delegated SSI taken in S when sstatus.SIE = 1
  INSTALL_S_HANDLER
  CLEAR_INT_LOG
  li t0, MIP_SSIP
  csrw mideleg, t0
  csrw mie, t0
  IN_MODE(32, PRV_S, csrsi sstatus, MSTATUS_SIE; csrsi sip, MIP_SSIP; li t1, 1000000; 1: LOAD_WORD(t2, s_int_count); bnez t2, 2f; addi t1, t1, -1; bnez t1, 1b; 2: csrci sstatus, MSTATUS_SIE)
  TEST_CASE(33, 1, LOAD_WORD(a0, s_int_count))
  TEST_CASE(34, IRQ_S_SOFT, la a0, s_int_log; ld a0, 0(a0))
  TEST_CASE(35, 0, LOAD_WORD(a0, int_count))
  // not taken in S with SIE = 0
  CLEAR_INT_LOG
  li t0, MIP_SSIP
  csrw mie, t0
  IN_MODE(36, PRV_S, csrsi sip, MIP_SSIP; nop; nop; nop; LOAD_WORD(s1, s_int_count))
  CHECK_IMM(37, s1, 0)
  // but taken in U regardless of SIE
  IN_MODE(38, PRV_U, li t1, 1000000; 1: LOAD_WORD(t2, s_int_count); bnez t2, 2f; addi t1, t1, -1; bnez t1, 1b; 2:)
  TEST_CASE(39, 1, LOAD_WORD(a0, s_int_count))
  // a delegated interrupt pending in M with MIE = 1 is not taken
  CLEAR_INT_LOG
  li t0, MIP_SSIP
  csrw mie, t0
  csrs mstatus, MSTATUS_MIE
  TEST_CASE(40, 0, nop; nop; nop; LOAD_WORD(a0, int_count); LOAD_WORD(t0, s_int_count); or a0, a0, t0)
  csrc mstatus, MSTATUS_MIE
  csrc mip, MIP_SSIP
  csrw mideleg, zero
  csrw mie, zero

  // in U-mode with MSI pending for M and SSI/STI delegated: all three taken
  INSTALL_S_HANDLER
  CLEAR_INT_LOG
  li t0, MIP_SSIP | MIP_STIP
  csrw mideleg, t0
  li t0, MIP_SSIP | MIP_STIP | MIP_MSIP
  csrw mie, t0
  li t0, MIP_SSIP | MIP_STIP
  csrs mip, t0
  SET_MSIP(1)
  IN_MODE(25, PRV_U, li t1, 1000000; 1: LOAD_WORD(t2, s_int_count); li t0, 2; beq t2, t0, 2f; addi t1, t1, -1; bnez t1, 1b; 2:)
  TEST_CASE(26, 1, LOAD_WORD(a0, int_count))
  CHECK_INT_LOG(58, 0, IRQ_M_SOFT)
  TEST_CASE(59, 2, LOAD_WORD(a0, s_int_count))
  SET_MSIP(0)
  li t0, MIP_SSIP | MIP_STIP
  csrc mip, t0
  csrw mideleg, zero
  csrw mie, zero

  // timer: mtimecmp a little in the future, wait with wfi
  CLEAR_INT_LOG
  li t0, MIP_MTIP
  csrw mie, t0
  li t0, CLINT_MTIME
  ld t1, 0(t0)
  addi t1, t1, 1000
  SET_MTIMECMP(t1)
  csrs mstatus, MSTATUS_MIE
1:
  LOAD_WORD(t2, int_count)
  bnez t2, 2f
  wfi
  j 1b
2:
  csrc mstatus, MSTATUS_MIE
  CHECK_INT_LOG(41, 0, IRQ_M_TIMER)
  TEST_CASE(42, 1, LOAD_WORD(t0, int_count); mv a0, t0)
  TEST_CASE(43, 1, li t0, CLINT_MTIME; ld a0, 0(t0); li t0, CLINT_MTIMECMP; ld t0, 0(t0); sltu a0, a0, t0; xori a0, a0, 1)
  SET_MTIMECMP(s0)
  // wfi with MIE = 0 returns once an enabled interrupt is pending, no trap
  CLEAR_INT_LOG
  li t0, MIP_MTIP
  csrw mie, t0
  li t0, CLINT_MTIME
  ld t1, 0(t0)
  addi t1, t1, 500
  SET_MTIMECMP(t1)
1:
  csrr t2, mip
  andi t2, t2, MIP_MTIP
  bnez t2, 2f
  wfi
  j 1b
2:
  TEST_CASE(44, 0, LOAD_WORD(a0, int_count))
  SET_MTIMECMP(s0)
  csrw mie, zero

  // vectored mtvec: interrupts go to base + 4 * code, exceptions to base
  csrr s5, mtvec
  la t0, m_vector_table
  ori t0, t0, 1
  csrw mtvec, t0
  TEST_CASE(45, 1, csrr a0, mtvec; andi a0, a0, 3)
  CLEAR_INT_LOG
  la t0, vector_slot
  li t1, -1
  sd t1, 0(t0)
  li t0, MIP_MSIP
  csrw mie, t0
  SET_MSIP(1)
  csrs mstatus, MSTATUS_MIE
  WAIT_INT_COUNT(46, 1)
  csrc mstatus, MSTATUS_MIE
  SET_MSIP(0)
  TEST_CASE(47, IRQ_M_SOFT, LOAD_WORD(a0, vector_slot))
  TEST_CASE(48, 0, li t1, -1; la t0, vector_slot; sd t1, 0(t0); TRY(ecall); LOAD_WORD(a0, vector_slot))
  CLEAR_INT_LOG
  li t0, MIP_SSIP
  csrw mie, t0
  csrs mip, MIP_SSIP
  csrs mstatus, MSTATUS_MIE
  WAIT_INT_COUNT(49, 1)
  csrc mstatus, MSTATUS_MIE
  csrc mip, MIP_SSIP
  TEST_CASE(50, IRQ_S_SOFT, LOAD_WORD(a0, vector_slot))
  csrw mtvec, s5
  csrw mie, zero
  // mode 2 and 3 are reserved: mtvec keeps its value (QEMU and Typevisor)
  TEST_CASE(51, 1, la t0, m_vector_table; ori t0, t0, 2; csrw mtvec, t0; csrr a0, mtvec; sub a0, a0, s5; seqz a0, a0; csrw mtvec, s5)

  // vectored stvec for a delegated SSI from U
  la t0, s_vector_table
  ori t0, t0, 1
  csrw stvec, t0
  la t0, vector_slot
  li t1, -1
  sd t1, 0(t0)
  CLEAR_INT_LOG
  li t0, MIP_SSIP
  csrw mideleg, t0
  csrw mie, t0
  csrs mip, MIP_SSIP
  IN_MODE(52, PRV_U, li t1, 1000000; 1: LOAD_WORD(t2, s_int_count); bnez t2, 2f; addi t1, t1, -1; bnez t1, 1b; 2:)
  TEST_CASE(53, IRQ_S_SOFT + 0x100, LOAD_WORD(a0, vector_slot))
  csrc mip, MIP_SSIP
  csrw mideleg, zero
  csrw mie, zero

  // TW: wfi in S is illegal when set; allowed (and returns) when clear
  li t0, MSTATUS_TW
  csrs mstatus, t0
  TEST_TRAP_IN_MODE(54, PRV_S, CAUSE_ILLEGAL_INSTRUCTION, wfi)
  LOAD_WORD(s1, trap_tval)
  CHECK_IMM(55, s1, 0x10500073)
  li t0, MSTATUS_TW
  csrc mstatus, t0
  li t0, MIP_SSIP
  csrw mideleg, t0
  csrw mie, t0
  csrs mip, MIP_SSIP              // pending and enabled, SIE = 0: wfi returns
  IN_MODE(56, PRV_S, wfi)
  csrc mip, MIP_SSIP
  csrw mie, zero
  csrw mideleg, zero
  // TSR: sret in S is illegal when set
  li t0, MSTATUS_TSR
  csrs mstatus, t0
  TEST_TRAP_IN_MODE(57, PRV_S, CAUSE_ILLEGAL_INSTRUCTION, sret)
  li t0, MSTATUS_TSR
  csrc mstatus, t0
TEST_END

// Vector tables: slot k records k (+0x100 for S) in vector_slot, then
// continues in the ordinary handler.
#define M_SLOT(k) j m_slot_##k
#define S_SLOT(k) j s_slot_##k
  .balign 256
  .option push
  .option norvc
m_vector_table:
  M_SLOT(0); M_SLOT(1); M_SLOT(2); M_SLOT(3); M_SLOT(4); M_SLOT(5); M_SLOT(6); M_SLOT(7)
  M_SLOT(8); M_SLOT(9); M_SLOT(10); M_SLOT(11)
  .balign 256
s_vector_table:
  S_SLOT(0); S_SLOT(1); S_SLOT(2); S_SLOT(3); S_SLOT(4); S_SLOT(5); S_SLOT(6); S_SLOT(7)
  S_SLOT(8); S_SLOT(9); S_SLOT(10); S_SLOT(11)
  .option pop
#define M_SLOT_BODY(k) m_slot_##k: csrrw t6, mscratch, t6; sd t0, 48(t6); sd t1, 56(t6); la t0, vector_slot; li t1, k; sd t1, 0(t0); ld t0, 48(t6); ld t1, 56(t6); csrrw t6, mscratch, t6; j m_trap_entry
#define S_SLOT_BODY(k) s_slot_##k: csrw sscratch, t6; la t6, harness_s_save_area; sd t0, 48(t6); sd t1, 56(t6); la t0, vector_slot; li t1, (k) + 0x100; sd t1, 0(t0); ld t0, 48(t6); ld t1, 56(t6); csrr t6, sscratch; j s_trap_entry
M_SLOT_BODY(0)
M_SLOT_BODY(1)
M_SLOT_BODY(2)
M_SLOT_BODY(3)
M_SLOT_BODY(4)
M_SLOT_BODY(5)
M_SLOT_BODY(6)
M_SLOT_BODY(7)
M_SLOT_BODY(8)
M_SLOT_BODY(9)
M_SLOT_BODY(10)
M_SLOT_BODY(11)
S_SLOT_BODY(0)
S_SLOT_BODY(1)
S_SLOT_BODY(2)
S_SLOT_BODY(3)
S_SLOT_BODY(4)
S_SLOT_BODY(5)
S_SLOT_BODY(6)
S_SLOT_BODY(7)
S_SLOT_BODY(8)
S_SLOT_BODY(9)
S_SLOT_BODY(10)
S_SLOT_BODY(11)

  .data
  .balign 16
vector_slot: .dword 0
