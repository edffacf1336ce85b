// Debug triggers (Sdtrig) as QEMU 7.2's virt hart has them: two triggers
// behind tselect; tdata1 of type 2 (mcontrol) or 6 (mcontrol6) is WARL
// (only the M/S/U, execute/store/load and valid size bits stick; other
// types are ignored); tdata3 reads 0; tinfo = types 2 and 6; no tcontrol
// or context CSRs. A match raises a breakpoint exception (cause 3, tval 0,
// epc = the instruction) before it executes or accesses memory: execute on
// the exact pc, loads/stores when any accessed byte is in
// [tdata2, tdata2 + size), 8 bytes for size "any"; AMOs and LR/SC count
// as loads and stores; in the modes whose bits are set; by virtual address.
#include "harness.h"
#include "vm.h"

#define TSELECT 0x7a0
#define TDATA1 0x7a1
#define TDATA2 0x7a2
#define TDATA3 0x7a3
#define TINFO 0x7a4
#define TCONTROL 0x7a5
#define MCONTEXT 0x7a8
#define SCONTEXT 0x5a8
#define TYPE2 (2 << 60)
#define TYPE6 (6 << 60)
#define MC_M (1 << 6)
#define MC_S (1 << 4)
#define MC_U (1 << 3)
#define MC_EXECUTE 4
#define MC_STORE 2
#define MC_LOAD 1

// tdata1 = TYPE2 (disarmed), tdata2 = address of label + off, tdata1 = ctl.
#define ARM(ctl, label, off) \
  li t3, TYPE2; csrw TDATA1, t3; \
  la t3, label; addi t3, t3, off; csrw TDATA2, t3; \
  li t3, ctl; csrw TDATA1, t3
#define DISARM li t3, TYPE2; csrw TDATA1, t3
// Writes `value` to tdata1 and expects to read back `expected`.
#define TDATA1_WARL(n, value, expected) \
  TEST_CASE(n, expected, li t3, value; csrw TDATA1, t3; csrr a0, TDATA1)
// Expects a breakpoint with tval 0 and mepc = `label` from `code`.
#define TEST_BREAK(n, label, ...) \
  TEST_TRAP_TVAL_IMM(n, CAUSE_BREAKPOINT, 0, __VA_ARGS__); \
  LOAD_WORD(s11, trap_epc); la t3, label; CHECK_REG(n, s11, t3)
// Expects `code` to run without a trap.
#define TEST_NO_BREAK(n, ...) \
  li TESTNUM, n; TRY(__VA_ARGS__); LOAD_WORD(a0, trap_cause); li t6, 0xff; bne a0, t6, fail_value

TEST_BEGIN
  // ---- the CSRs
  TEST_CASE(1, 1, li t3, 1; csrw TSELECT, t3; csrr a0, TSELECT)
  TEST_CASE(2, 1, li t3, 2; csrw TSELECT, t3; csrr a0, TSELECT)     // 2 triggers: ignored
  TEST_CASE(3, 1, li t3, -1; csrw TSELECT, t3; csrr a0, TSELECT)
  TEST_CASE(4, TYPE2, csrr a0, TDATA1)                              // reset: type 2, nothing armed
  TEST_CASE(5, 0, csrr a0, TDATA2)
  TEST_CASE(6, 0, csrw TSELECT, zero; csrr a0, TSELECT)
  TEST_CASE(7, TYPE2, csrr a0, TDATA1)
  TEST_CASE(8, 0, csrr a0, TDATA3)
  TEST_CASE(9, 0x44, csrr a0, TINFO)                                // types 2 and 6
  TEST_CASE(10, 0x44, li t3, 1; csrw TINFO, t3; csrr a0, TINFO)
  TEST_TRAP(11, CAUSE_ILLEGAL_INSTRUCTION, csrr a0, TCONTROL)
  TEST_TRAP(12, CAUSE_ILLEGAL_INSTRUCTION, csrr a0, MCONTEXT)
  TEST_TRAP(13, CAUSE_ILLEGAL_INSTRUCTION, csrr a0, SCONTEXT)
  TEST_TRAP_IN_MODE(14, PRV_S, CAUSE_ILLEGAL_INSTRUCTION, csrr a0, TSELECT)

  // tdata1 is WARL: only the mode, access and valid size bits of types 2 and 6 stick
  TDATA1_WARL(20, 0x2fffffffffffffff, 0x200000000000005f)          // sizehi:sizelo 15 is not valid
  TDATA1_WARL(21, 0x6fffffffffffffff, 0x600000000180005f)          // type 6 keeps VS and VU
  TDATA1_WARL(22, TYPE2 | (1 << 16) | MC_M | MC_LOAD, TYPE2 | (1 << 16) | MC_M | MC_LOAD)
  TDATA1_WARL(23, TYPE2 | (1 << 21) | (1 << 16) | MC_M, TYPE2 | (1 << 21) | (1 << 16) | MC_M) // size 5: 8 bytes
  TDATA1_WARL(24, TYPE2 | (1 << 21) | MC_M, TYPE2 | MC_M)          // size 4 (6 bytes): not supported
  TDATA1_WARL(25, TYPE6 | (5 << 16) | MC_M, TYPE6 | (5 << 16) | MC_M)
  TDATA1_WARL(26, TYPE6 | (8 << 16) | MC_M, TYPE6 | MC_M)
  TDATA1_WARL(27, TYPE2 | (1 << 59) | (1 << 20) | (1 << 12) | (2 << 7) | (1 << 11) | (1 << 5) | MC_M, TYPE2 | MC_M) // dmode, hit, action, match, chain, H
  // other types are ignored: tdata1 keeps its value
  TDATA1_WARL(28, 0, TYPE2 | MC_M)
  TDATA1_WARL(29, (3 << 60) | MC_S, TYPE2 | MC_M)
  TDATA1_WARL(30, (4 << 60) | MC_S, TYPE2 | MC_M)
  TDATA1_WARL(31, (5 << 60) | MC_S, TYPE2 | MC_M)
  TDATA1_WARL(32, -1, TYPE2 | MC_M)
  TEST_CASE(33, -1, li t3, -1; csrw TDATA2, t3; csrr a0, TDATA2)
  TEST_CASE(34, 0, li t3, -1; csrw TDATA3, t3; csrr a0, TDATA3)
  csrw TDATA2, zero
  DISARM

  // ---- execute
  ARM(TYPE2 | MC_M | MC_EXECUTE, ex1, 0)
  li s2, 0
  TEST_BREAK(40, ex1, nop; ex1: li s2, 1; nop)
  CHECK_IMM(41, s2, 0)                                              // did not execute
  TEST_CASE(42, TYPE2 | MC_M | MC_EXECUTE, csrr a0, TDATA1)          // hit stays 0
  csrsi mstatus, MSTATUS_MIE                                        // fires with MIE either way
  ARM(TYPE2 | MC_M | MC_EXECUTE, ex2, 0)
  TEST_BREAK(43, ex2, nop; ex2: nop)
  csrci mstatus, MSTATUS_MIE
  .option push
  .option norvc
  ARM(TYPE2 | MC_M | MC_EXECUTE, ex3, 2)                             // the middle of an instruction
  TEST_NO_BREAK(44, ex3: addi s2, zero, 3; nop)
  CHECK_IMM(45, s2, 3)
  .option pop
  ARM(TYPE2 | MC_M | MC_EXECUTE, ex4, 0)                             // a compressed instruction
  TEST_BREAK(46, ex4, nop; ex4: c.li s2, 4; c.nop)
  ARM(TYPE6 | MC_M | MC_EXECUTE, ex5, 0)
  TEST_BREAK(47, ex5, ex5: nop)
  ARM(TYPE2 | MC_S | MC_U | MC_EXECUTE, ex6, 0)                      // not in M
  TEST_NO_BREAK(48, ex6: nop)
  ARM(TYPE2 | MC_M | MC_LOAD | MC_STORE, ex7, 0)                     // not executing
  TEST_NO_BREAK(49, ex7: nop)
  // a loop on the watched page runs (slowly) until it reaches the trigger
  ARM(TYPE2 | MC_M | MC_EXECUTE, ex8, 0)
  li s2, 0
  li s3, 100
  TEST_BREAK(50, ex8, 1: addi s2, s2, 1; bne s2, s3, 1b; ex8: nop)
  CHECK_IMM(51, s2, 100)
  DISARM
  TEST_NO_BREAK(52, ex9: nop)

  // ---- loads
  la s6, watch
  li t3, 0x1111
  sd t3, -8(s6)
  sd t3, 0(s6)
  sd t3, 8(s6)
  ARM(TYPE2 | MC_M | MC_LOAD, watch, 0)
  li s2, 0x77
  TEST_BREAK(60, l1, l1: ld s2, 0(s6))
  CHECK_IMM(61, s2, 0x77)                                           // rd unchanged
  TEST_BREAK(62, l2, l2: lb s2, 7(s6))                              // size any: 8 bytes
  TEST_NO_BREAK(63, lb s2, 8(s6))
  TEST_NO_BREAK(64, lb s2, -1(s6))
  TEST_NO_BREAK(65, lw s2, -4(s6))
  TEST_BREAK(66, l3, l3: ld s2, -4(s6))                             // misaligned, overlapping
  TEST_NO_BREAK(67, sd s2, 16(s6); sd zero, 0(s6))                  // stores do not match
  TEST_BREAK(68, l4, l4: lr.d s2, (s6))
  TEST_BREAK(69, l5, l5: amoadd.d s2, zero, (s6))
  TEST_BREAK(70, l6, l6: fld f1, 0(s6))
  TEST_BREAK(71, l7, mv s0, s6; l7: c.ld s1, 0(s0))
  TEST_BREAK(72, l8, l8: lhu s2, 6(s6))
  ARM(TYPE2 | (1 << 16) | MC_M | MC_LOAD, watch, 0)                 // size 1
  TEST_NO_BREAK(73, lb s2, 1(s6))
  TEST_BREAK(74, l9, l9: ld s2, 0(s6))
  ARM(TYPE6 | (2 << 16) | MC_M | MC_LOAD, watch, 4)                 // size 2 from watch + 4
  TEST_NO_BREAK(75, lw s2, 0(s6))
  TEST_BREAK(76, l10, l10: lw s2, 2(s6))
  TEST_NO_BREAK(77, lb s2, 6(s6))
  ARM(TYPE2 | MC_M | MC_LOAD, watch, 3)                             // an unaligned range
  TEST_BREAK(78, l11, l11: lb s2, 10(s6))
  TEST_NO_BREAK(79, lb s2, 11(s6); lb s2, 2(s6))
  // size 3 (4 bytes) and 5 (8 bytes): QEMU 7.2 watches 3 and 5 bytes
  ARM(TYPE2 | (3 << 16) | MC_M | MC_LOAD, watch, 0)
  TRY(lb s2, 3(s6))
  LOAD_WORD(s3, trap_cause)
  REPORT("size-4-bytes-lb-3-cause", s3)
  ARM(TYPE6 | (5 << 16) | MC_M | MC_LOAD, watch, 0)
  TRY(lb s2, 7(s6))
  LOAD_WORD(s3, trap_cause)
  REPORT("size-8-bytes-lb-7-cause", s3)

  // ---- stores
  ARM(TYPE2 | MC_M | MC_STORE, watch, 0)
  li s2, 0x2222
  TEST_BREAK(90, st1, st1: sd s2, 0(s6))
  TEST_CASE(91, 0, ld a0, 0(s6))                                    // memory unchanged
  TEST_BREAK(92, st2, st2: sb s2, 5(s6))
  TEST_BREAK(93, st3, st3: fsd f1, 0(s6))
  TEST_BREAK(94, st4, st4: amoswap.w s2, s2, (s6))
  TEST_NO_BREAK(95, ld s2, 0(s6); lr.d s2, (s6))
  TEST_BREAK(96, st5, st5: sc.d s2, s2, (s6))                         // with a reservation: stores
  TEST_NO_BREAK(97, sc.d s2, s2, (s6))                              // without: no access, no match
  CHECK_IMM(98, s2, 1)
  TEST_CASE(99, 0, ld a0, 0(s6))
  DISARM
  TEST_CASE(100, 0x3333, li t3, 0x3333; sd t3, 0(s6); ld a0, 0(s6)) // disarmed: a plain page again

  // ---- privilege modes
  ARM(TYPE2 | MC_S | MC_EXECUTE, m1, 0)
  li s2, 0
  TEST_BREAK(110, m1, ENTER_MODE(PRV_S, m1); m1: li s2, 1; ecall)
  CHECK_IMM(111, s2, 0)
  LOAD_WORD(s3, trap_mstatus)
  srli s3, s3, 11
  andi s3, s3, 3
  CHECK_IMM(112, s3, PRV_S)                                         // MPP: it came from S
  ARM(TYPE2 | MC_M | MC_U | MC_EXECUTE, m2, 0)                      // not in S
  IN_MODE(113, PRV_S, m2: nop)
  ARM(TYPE2 | MC_U | MC_LOAD, watch, 0)
  TEST_BREAK(114, m3, ENTER_MODE(PRV_U, m3); m3: ld s2, 0(s6); ecall)
  IN_MODE(115, PRV_S, ld s2, 0(s6))
  li t3, 1 << CAUSE_BREAKPOINT                                      // delegated to S
  csrw medeleg, t3
  ARM(TYPE2 | MC_S | MC_EXECUTE, m4, 0)
  TEST_STRAP_IN_MODE(116, PRV_S, CAUSE_BREAKPOINT, m4: nop)
  LOAD_WORD(s3, s_trap_epc)
  la t3, m4
  CHECK_REG(117, s3, t3)
  LOAD_WORD(s3, s_trap_tval)
  CHECK_IMM(118, s3, 0)
  csrw medeleg, zero

  // ---- both triggers at once
  li t3, 1
  csrw TSELECT, t3
  ARM(TYPE2 | MC_M | MC_LOAD, watch, 8)
  csrw TSELECT, zero
  ARM(TYPE2 | MC_M | MC_STORE, watch, 0)
  TEST_BREAK(130, tw1, tw1: ld s2, 8(s6))
  TEST_BREAK(131, tw2, tw2: sd s2, 0(s6))
  TEST_NO_BREAK(132, ld s2, 0(s6); sd s2, 8(s6))
  DISARM
  li t3, 1
  csrw TSELECT, t3
  DISARM
  csrw TSELECT, zero

  // ---- virtual addresses (Sv39): U code and data through the user alias
  SET_PTE_IMM(pt_root, 2, 0x80000000, PTE_LEAF(PTE_RWX))
  SET_PTE_IMM(pt_root, 3, 0x80000000, PTE_LEAF(PTE_RWX | PTE_U))
  SET_SATP(SATP_SV39, pt_root)
  li s7, USER_ALIAS_OFFSET
  add s8, s6, s7                                                    // watch, as U sees it
  li t3, TYPE2; csrw TDATA1, t3
  csrw TDATA2, s8
  li t3, TYPE2 | MC_M | MC_U | MC_LOAD
  csrw TDATA1, t3
  TEST_NO_BREAK(140, ld s2, 0(s6))                                  // M: the physical address
  TEST_TRAP_IN_U_ALIAS(141, CAUSE_BREAKPOINT, v1: ld s2, 0(s8))
  LOAD_WORD(s3, trap_epc)
  la t3, v1
  add t3, t3, s7
  CHECK_REG(142, s3, t3)
  DISARM
  la t3, v2
  add t3, t3, s7
  csrw TDATA2, t3
  li t3, TYPE2 | MC_U | MC_EXECUTE
  csrw TDATA1, t3
  TEST_TRAP_IN_U_ALIAS(143, CAUSE_BREAKPOINT, nop; v2: nop)
  LOAD_WORD(s3, trap_epc)
  la t3, v2
  add t3, t3, s7
  CHECK_REG(144, s3, t3)
  DISARM
  csrw satp, zero
  sfence.vma
  TEST_END

  .data
  .balign 4096
pt_root: .space 4096
  .balign 64
  .dword 0, 0
watch:
  .dword 0, 0, 0, 0
