// Machine information and counter CSRs: misa, mvendorid/marchid/mimpid,
// mhartid; cycle/time/instret readable, advancing and writable through
// mcycle/minstret; mcounteren/scounteren gating for S and U (illegal when
// not enabled); time matching CLINT mtime; PMP CSRs present and WARL.
#include "harness.h"

#define EXT(c) (1 << ((c) - 'A'))

TEST_BEGIN
  // misa: MXL = 2 (64-bit), I M A F D C S U present
  TEST_CASE(1, 2, csrr a0, misa; srli a0, a0, 62)
  TEST_CASE(2, EXT('I') | EXT('M') | EXT('A') | EXT('F') | EXT('D') | EXT('C') | EXT('S') | EXT('U'), csrr a0, misa; li t0, EXT('I') | EXT('M') | EXT('A') | EXT('F') | EXT('D') | EXT('C') | EXT('S') | EXT('U') | EXT('E') | EXT('Q'); and a0, a0, t0)
  TEST_CASE(3, 0, csrr a0, mvendorid)
  TEST_CASE(4, 0, csrr a0, mhartid)
  TEST_CASE(5, 0, csrr a0, marchid; csrr a0, mimpid; csrr a0, 0xf15; li a0, 0)   // readable (mconfigptr too)
  // boot protocol: a0 = hart id, a1 = address of a device tree (magic d00dfeed, big-endian)
  TEST_CASE(51, 0, LOAD_WORD(a0, boot_a0))
  TEST_CASE(52, 0xedfe0dd0, LOAD_WORD(a0, boot_a1); lwu a0, 0(a0))

  // counters advance
  TEST_CASE(6, 1, csrr t0, cycle; 1: csrr t1, cycle; beq t0, t1, 1b; sltu a0, t0, t1)
  TEST_CASE(7, 1, csrr t0, instret; nop; nop; csrr t1, instret; sltu a0, t0, t1)
  TEST_CASE(8, 1, csrr t0, time; 1: csrr t1, time; beq t0, t1, 1b; sltu a0, t0, t1)
  TEST_CASE(9, 1, csrr t0, mcycle; 1: csrr t1, mcycle; beq t0, t1, 1b; sltu a0, t0, t1)
  TEST_CASE(10, 1, csrr t0, minstret; nop; csrr t1, minstret; sltu a0, t0, t1)
  // time is CLINT mtime
  TEST_CASE(11, 1, li t2, CLINT_MTIME; ld t0, 0(t2); csrr t1, time; ld t2, 0(t2); sltu a0, t1, t0; xori a0, a0, 1; sltu t1, t2, t1; xori t1, t1, 1; and a0, a0, t1)
  // minstret / mcycle writable: the read is at least the written value, and not far above
  TEST_CASE(12, 1, li t0, 0x0000100000000000; csrw minstret, t0; csrr t1, minstret; sub t1, t1, t0; srli a0, t1, 32; seqz a0, a0)
  TEST_CASE(13, 1, li t0, 0x0000200000000000; csrw mcycle, t0; csrr t1, mcycle; sub t1, t1, t0; srli a0, t1, 32; seqz a0, a0)
  TEST_CASE(14, 1, li t0, 0x0000300000000000; csrw minstret, t0; csrr t1, instret; sub t1, t1, t0; srli a0, t1, 32; seqz a0, a0)

  // mcounteren / scounteren bits CY, TM, IR are writable
  TEST_CASE(15, 7, li t0, 7; csrw mcounteren, t0; csrr a0, mcounteren; andi a0, a0, 7)
  TEST_CASE(16, 5, li t0, 5; csrw scounteren, t0; csrr a0, scounteren; andi a0, a0, 7)
  // S-mode: gated by mcounteren only
  csrw mcounteren, zero
  csrw scounteren, zero
  TEST_TRAP_IN_MODE(17, PRV_S, CAUSE_ILLEGAL_INSTRUCTION, csrr a0, cycle)
  LOAD_WORD(s1, trap_tval)
  CHECK_IMM(18, s1, 0xc0002573)
  TEST_TRAP_IN_MODE(19, PRV_S, CAUSE_ILLEGAL_INSTRUCTION, csrr a0, time)
  TEST_TRAP_IN_MODE(20, PRV_S, CAUSE_ILLEGAL_INSTRUCTION, csrr a0, instret)
  li t0, 7
  csrw mcounteren, t0
  IN_MODE(21, PRV_S, csrr s1, cycle; csrr s2, time; csrr s3, instret)
  TEST_CASE(22, 1, snez a0, s1; snez t0, s2; and a0, a0, t0; snez t0, s3; and a0, a0, t0)
  // only the enabled counter is readable
  li t0, 2
  csrw mcounteren, t0
  IN_MODE(23, PRV_S, csrr s1, time)
  TEST_TRAP_IN_MODE(24, PRV_S, CAUSE_ILLEGAL_INSTRUCTION, csrr a0, cycle)
  TEST_TRAP_IN_MODE(25, PRV_S, CAUSE_ILLEGAL_INSTRUCTION, csrr a0, instret)
  // U-mode: needs both mcounteren and scounteren
  li t0, 7
  csrw mcounteren, t0
  csrw scounteren, zero
  TEST_TRAP_IN_MODE(26, PRV_U, CAUSE_ILLEGAL_INSTRUCTION, csrr a0, cycle)
  TEST_TRAP_IN_MODE(27, PRV_U, CAUSE_ILLEGAL_INSTRUCTION, csrr a0, time)
  TEST_TRAP_IN_MODE(28, PRV_U, CAUSE_ILLEGAL_INSTRUCTION, csrr a0, instret)
  li t0, 7
  csrw scounteren, t0
  IN_MODE(29, PRV_U, csrr s1, cycle; csrr s2, time; csrr s3, instret)
  TEST_CASE(30, 1, snez a0, s1; snez t0, s2; and a0, a0, t0; snez t0, s3; and a0, a0, t0)
  csrw mcounteren, zero
  TEST_TRAP_IN_MODE(31, PRV_U, CAUSE_ILLEGAL_INSTRUCTION, csrr a0, time)   // scounteren alone is not enough
  li t0, 1
  csrw mcounteren, t0
  csrw scounteren, t0
  IN_MODE(32, PRV_U, csrr s1, cycle)
  TEST_TRAP_IN_MODE(33, PRV_U, CAUSE_ILLEGAL_INSTRUCTION, csrr a0, time)
  // the machine counters are never accessible below M
  li t0, 7
  csrw mcounteren, t0
  csrw scounteren, t0
  TEST_TRAP_IN_MODE(34, PRV_S, CAUSE_ILLEGAL_INSTRUCTION, csrr a0, mcycle)
  TEST_TRAP_IN_MODE(35, PRV_U, CAUSE_ILLEGAL_INSTRUCTION, csrr a0, minstret)
  // counters are read-only through the user CSR numbers, even in M
  TEST_TRAP(36, CAUSE_ILLEGAL_INSTRUCTION, csrw cycle, zero)
  TEST_TRAP(37, CAUSE_ILLEGAL_INSTRUCTION, csrw instret, zero)
  csrw mcounteren, zero
  csrw scounteren, zero

  // PMP: 16 entries, pmpcfg0/2 and pmpaddr0..15 read back what was written
  // (address bits 53:0; harness entry 0 is restored afterwards)
  csrr s4, pmpaddr0
  csrr s5, pmpcfg0
  TEST_CASE(38, 0x0000000123456789, li t0, 0x123456789; csrw pmpaddr1, t0; csrr a0, pmpaddr1)
  TEST_CASE(39, 0x003fffffffffffff, li t0, 0x003fffffffffffff; csrw pmpaddr15, t0; csrr a0, pmpaddr15)
  TEST_CASE(40, 0x0000000000000abc, li t0, 0xabc; csrw pmpaddr7, t0; csrr a0, pmpaddr7)
  // cfg: entry 1 = TOR R, entry 2 = NAPOT RW (entry 0 stays NAPOT RWX)
  TEST_CASE(41, 0x1b091f, li t0, 0x1b091f; csrw pmpcfg0, t0; csrr a0, pmpcfg0)
  TEST_CASE(42, 0x0f, li t0, 0x0f; csrw pmpcfg2, t0; csrr a0, pmpcfg2)
  csrw pmpcfg2, zero
  csrw pmpaddr1, zero
  csrw pmpaddr7, zero
  csrw pmpaddr15, zero
  csrw pmpcfg0, s5
  csrw pmpaddr0, s4
  // PMP enforcement: an S-mode load hitting a no-permission entry faults
  la s6, pmp_page
  srli t0, s6, 2
  ori t0, t0, (4096 / 8) - 1       // NAPOT 4 KiB at pmp_page
  csrw pmpaddr0, t0
  li t0, -1
  csrw pmpaddr1, t0
  li t0, (0x1f << 8) | 0x18        // entry 0: NAPOT no access; entry 1: NAPOT RWX
  csrw pmpcfg0, t0
  TEST_TRAP_IN_MODE(43, PRV_S, CAUSE_LOAD_ACCESS, ld a0, 0(s6))
  LOAD_WORD(s1, trap_tval)
  CHECK_REG(44, s1, s6)
  TEST_TRAP_IN_MODE(45, PRV_U, CAUSE_STORE_ACCESS, sd a0, 8(s6))
  IN_MODE(46, PRV_S, li t0, 4096; add t0, t0, s6; ld s1, 0(t0))   // the next page is allowed
  TEST_CASE(47, 0x77, li t0, 0x77; sd t0, 0(s6); ld a0, 0(s6))   // M-mode ignores unlocked entries
  // read-only entry: loads work, stores fault
  li t0, (0x1f << 8) | 0x19        // entry 0: NAPOT R
  csrw pmpcfg0, t0
  IN_MODE(48, PRV_S, ld s1, 0(s6))
  CHECK_IMM(49, s1, 0x77)
  TEST_TRAP_IN_MODE(50, PRV_S, CAUSE_STORE_ACCESS, sd zero, 0(s6))
  csrw pmpcfg0, s5
  csrw pmpaddr0, s4
  csrw pmpaddr1, zero
TEST_END

  .data
  .balign 4096
pmp_page: .space 4096
  .space 4096
