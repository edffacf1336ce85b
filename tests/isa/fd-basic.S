// F and D basics: loads/stores, moves, NaN-boxing of singles, the fcsr /
// frm / fflags CSRs, exception flags, rounding modes (static and dynamic,
// reserved ones illegal), conversions at the edges, min/max/compare with
// NaNs, and mstatus.FS (off: every FP instruction and CSR is illegal;
// any FP write makes it Dirty).
#include "harness.h"

#define FD(freg, bits) li t0, bits; fmv.d.x freg, t0
#define FS_(freg, bits) li t0, bits; fmv.w.x freg, t0
#define ONE_D 0x3ff0000000000000
#define TWO_D 0x4000000000000000
#define THREE_D 0x4008000000000000
#define ONE_S 0x3f800000
#define TWO_S 0x40000000
#define QNAN_D 0x7ff8000000000000
#define SNAN_D 0x7ff0000000000001
#define QNAN_S 0x7fc00000
#define SNAN_S 0x7f800001
#define INF_D 0x7ff0000000000000
#define NX 1
#define UF 2
#define OF 4
#define DZ 8
#define NV 16
#define FLAGS_AFTER(n, flags) TEST_CASE(n, flags, csrr a0, fflags)

TEST_BEGIN
  la s0, fp_data
  // loads, stores, moves
  TEST_CASE(1, 0x400921fb54442d18, fld fa0, 0(s0); fmv.x.d a0, fa0)
  TEST_CASE(2, 0x400921fb54442d18, fld fa0, 0(s0); fsd fa0, 16(s0); ld a0, 16(s0))
  TEST_CASE(3, 0xffffffff40490fdb, flw fa0, 8(s0); fmv.x.d a0, fa0)        // flw NaN-boxes
  TEST_CASE(4, 0x0000000040490fdb, flw fa0, 8(s0); fsw fa0, 24(s0); ld a0, 24(s0))
  TEST_CASE(5, 0xffffffffbf800000, FS_(fa0, 0xbf800000); fmv.x.w a0, fa0)    // sign-extended
  TEST_CASE(6, 0xffffffff3f800000, FS_(fa0, 0x3f800000); fmv.x.d a0, fa0)    // boxed
  TEST_CASE(7, 0x123456789abcdef0, FD(fa0, 0x123456789abcdef0); fmv.x.d a0, fa0)
  // narrow transfers out ignore the upper half (no boxing check)
  TEST_CASE(8, 0xffffffff9abcdef0, FD(fa0, 0x123456789abcdef0); fmv.x.w a0, fa0)
  TEST_CASE(9, 0x000000009abcdef0, FD(fa0, 0x123456789abcdef0); sd zero, 24(s0); fsw fa0, 24(s0); ld a0, 24(s0))
  // a non-boxed single is read as the canonical NaN
  csrw fflags, zero
  TEST_CASE(10, 0xffffffff7fc00000, FD(fa0, 0x000000003f800000); FS_(fa1, ONE_S); fadd.s fa2, fa0, fa1; fmv.x.d a0, fa2)
  FLAGS_AFTER(11, 0)
  TEST_CASE(12, 0xffffffff7fc00000, FD(fa0, 0xfffffffe3f800000); fsgnj.s fa2, fa0, fa0; fmv.x.d a0, fa2)
  TEST_CASE(13, 0xffffffffffc00000, FD(fa0, 0x000000003f800000); FS_(fa1, 0xbf800000); fsgnj.s fa2, fa0, fa1; fmv.x.d a0, fa2)
  TEST_CASE(14, 0x200, FD(fa0, 0x7ff000003f800000); fclass.s a0, fa0)      // quiet NaN
  TEST_CASE(15, 0x40, FS_(fa0, ONE_S); fclass.s a0, fa0)                      // positive normal
  TEST_CASE(16, 0x7fc00000, FD(fa0, 0x00000000bf800000); fcvt.d.s fa1, fa0; fcvt.s.d fa2, fa1; fmv.x.w a0, fa2)
  // fcsr, frm, fflags
  TEST_CASE(17, 0x60, csrwi frm, 3; csrr a0, fcsr)
  TEST_CASE(18, 0x7f, csrwi fflags, 0x1f; csrr a0, fcsr)
  TEST_CASE(19, 3, csrr a0, frm)
  TEST_CASE(20, 0xff, li t0, -1; csrw fcsr, t0; csrr a0, fcsr)
  TEST_CASE(21, 7, csrr a0, frm)
  TEST_CASE(22, 0x1f, csrr a0, fflags)
  TEST_CASE(23, 0xff, csrrw a0, fcsr, zero)
  TEST_CASE(24, 0, csrr a0, fcsr)
  TEST_CASE(25, 0x1f, li t0, -1; csrw fflags, t0; csrr a0, fflags)
  TEST_CASE(26, 0x1f, csrr a0, fcsr)
  csrw fcsr, zero
  // exception flags accrue
  TEST_CASE(27, 0x7ff0000000000000, FD(fa0, ONE_D); fmv.d.x fa1, zero; fdiv.d fa2, fa0, fa1; fmv.x.d a0, fa2)
  FLAGS_AFTER(28, DZ)
  TEST_CASE(29, QNAN_D, csrw fflags, zero; FD(fa0, 0xbff0000000000000); fsqrt.d fa2, fa0; fmv.x.d a0, fa2)
  FLAGS_AFTER(30, NV)
  TEST_CASE(31, 0x3fd5555555555555, csrw fflags, zero; FD(fa0, ONE_D); FD(fa1, THREE_D); fdiv.d fa2, fa0, fa1; fmv.x.d a0, fa2)
  FLAGS_AFTER(32, NX)
  TEST_CASE(33, INF_D, csrw fflags, zero; FD(fa0, 0x7fefffffffffffff); fadd.d fa2, fa0, fa0; fmv.x.d a0, fa2)
  FLAGS_AFTER(34, OF | NX)
  TEST_CASE(35, 0, csrw fflags, zero; FD(fa0, 0x0010000000000000); fmul.d fa2, fa0, fa0; fmv.x.d a0, fa2)
  FLAGS_AFTER(36, UF | NX)
  TEST_CASE(37, OF | NX | NV, csrs fflags, NV; csrr a0, fflags; csrs fflags, OF; csrr a0, fflags; andi a0, a0, NV | OF; ori a0, a0, NX)
  // rounding modes: 2.5 and -2.5 to integer
  csrw fcsr, zero
#define HALF5 0x4004000000000000
#define NHALF5 0xc004000000000000
  TEST_CASE(38, 2, FD(fa0, HALF5); fcvt.w.d a0, fa0, rne)
  TEST_CASE(39, 2, FD(fa0, HALF5); fcvt.w.d a0, fa0, rtz)
  TEST_CASE(40, 2, FD(fa0, HALF5); fcvt.w.d a0, fa0, rdn)
  TEST_CASE(41, 3, FD(fa0, HALF5); fcvt.w.d a0, fa0, rup)
  TEST_CASE(42, 3, FD(fa0, HALF5); fcvt.w.d a0, fa0, rmm)
  TEST_CASE(43, -2, FD(fa0, NHALF5); fcvt.l.d a0, fa0, rne)
  TEST_CASE(44, -2, FD(fa0, NHALF5); fcvt.l.d a0, fa0, rtz)
  TEST_CASE(45, -3, FD(fa0, NHALF5); fcvt.l.d a0, fa0, rdn)
  TEST_CASE(46, -2, FD(fa0, NHALF5); fcvt.l.d a0, fa0, rup)
  TEST_CASE(47, -3, FD(fa0, NHALF5); fcvt.l.d a0, fa0, rmm)
  // dynamic rounding from frm
  TEST_CASE(48, 3, csrwi frm, 3; FD(fa0, HALF5); fcvt.w.d a0, fa0, dyn)
  TEST_CASE(49, 2, csrwi frm, 2; FD(fa0, HALF5); fcvt.w.d a0, fa0, dyn)
  TEST_CASE(50, 3, csrwi frm, 4; FD(fa0, HALF5); fcvt.w.d a0, fa0)        // default rm is dyn
  TEST_CASE(51, 0x3fd5555555555556, csrwi frm, 3; FD(fa0, ONE_D); FD(fa1, THREE_D); fdiv.d fa2, fa0, fa1; fmv.x.d a0, fa2)
  TEST_CASE(52, 0x3fd5555555555555, csrwi frm, 2; FD(fa0, ONE_D); FD(fa1, THREE_D); fdiv.d fa2, fa0, fa1; fmv.x.d a0, fa2)
  // reserved frm with dynamic rounding: illegal; static rounding still works
  csrwi frm, 5
  TEST_TRAP_TVAL_IMM(53, CAUSE_ILLEGAL_INSTRUCTION, 0x02b57653, fadd.d fa2, fa0, fa1, dyn)
  TEST_CASE(54, 0x3fd5555555555555, fdiv.d fa2, fa0, fa1, rtz; fmv.x.d a0, fa2)
  csrwi frm, 7
  TEST_TRAP(55, CAUSE_ILLEGAL_INSTRUCTION, fcvt.w.d a0, fa0, dyn)
  csrw fcsr, zero
  // reserved rm encodings 5 and 6 in the instruction: illegal
  TEST_TRAP_TVAL_IMM(56, CAUSE_ILLEGAL_INSTRUCTION, 0x02b5d653, .word 0x02b5d653)   // fadd.d rm=5
  TEST_TRAP_TVAL_IMM(57, CAUSE_ILLEGAL_INSTRUCTION, 0x02b5e653, .word 0x02b5e653)   // fadd.d rm=6
  // conversions at the edges
  csrw fflags, zero
  TEST_CASE(58, 0x7fffffff, FS_(fa0, QNAN_S); fcvt.w.s a0, fa0, rtz)
  FLAGS_AFTER(59, NV)
  TEST_CASE(60, 0, csrw fflags, zero; FD(fa0, 0xbff0000000000000); fcvt.wu.d a0, fa0, rtz)
  FLAGS_AFTER(61, NV)
  TEST_CASE(62, 0x7fffffffffffffff, csrw fflags, zero; FD(fa0, 0x46293e5939a08cea); fcvt.l.d a0, fa0, rtz)
  FLAGS_AFTER(63, NV)
  TEST_CASE(64, 0x8000000000000000, FD(fa0, 0xfff0000000000000); fcvt.l.d a0, fa0, rtz)
  TEST_CASE(65, 0xffffffffffffffff, FD(fa0, INF_D); fcvt.lu.d a0, fa0, rtz)
  TEST_CASE(66, 0xffffffff80000000, FD(fa0, 0xc1e0000000000000); fcvt.w.d a0, fa0, rtz)  // exactly INT_MIN
  TEST_CASE(67, 0xffffffffffffffff, FD(fa0, 0x41efffffffe00000); fcvt.wu.d a0, fa0, rtz) // 2^32-1: sign-extended
  TEST_CASE(68, 0x43e0000000000000, li t0, 0x8000000000000000; fcvt.d.lu fa0, t0; fmv.x.d a0, fa0)
  TEST_CASE(69, 0xc3e0000000000000, li t0, 0x8000000000000000; fcvt.d.l fa0, t0; fmv.x.d a0, fa0)
  TEST_CASE(70, 0xffffffff4f800000, li t0, -1; fcvt.s.wu fa0, t0; fmv.x.d a0, fa0)
  TEST_CASE(71, 0xffffffffbf800000, li t0, 0xffffffff; fcvt.s.w fa0, t0; fmv.x.d a0, fa0)   // low 32 bits used
  csrw fflags, zero
  TEST_CASE(72, QNAN_D, FS_(fa0, SNAN_S); fcvt.d.s fa1, fa0; fmv.x.d a0, fa1)   // sNaN -> canonical NaN
  FLAGS_AFTER(73, NV)
  TEST_CASE(74, 0xffffffff7f800000, FD(fa0, 0x7fefffffffffffff); fcvt.s.d fa1, fa0, rne; fmv.x.d a0, fa1)
  TEST_CASE(75, 0xffffffff7f7fffff, FD(fa0, 0x7fefffffffffffff); fcvt.s.d fa1, fa0, rtz; fmv.x.d a0, fa1)
  // min / max
  csrw fflags, zero
  TEST_CASE(76, ONE_D, FD(fa0, QNAN_D); FD(fa1, ONE_D); fmin.d fa2, fa0, fa1; fmv.x.d a0, fa2)
  FLAGS_AFTER(77, 0)
  TEST_CASE(78, ONE_D, FD(fa0, SNAN_D); FD(fa1, ONE_D); fmax.d fa2, fa0, fa1; fmv.x.d a0, fa2)
  FLAGS_AFTER(79, NV)
  TEST_CASE(80, QNAN_D, FD(fa0, SNAN_D); FD(fa1, QNAN_D); fmax.d fa2, fa0, fa1; fmv.x.d a0, fa2)
  TEST_CASE(81, 0x8000000000000000, fmv.d.x fa0, zero; FD(fa1, 0x8000000000000000); fmin.d fa2, fa0, fa1; fmv.x.d a0, fa2)
  TEST_CASE(82, 0, fmv.d.x fa0, zero; FD(fa1, 0x8000000000000000); fmax.d fa2, fa1, fa0; fmv.x.d a0, fa2)
  TEST_CASE(83, 0xffffffff80000000, fmv.w.x fa0, zero; FS_(fa1, 0x80000000); fmin.s fa2, fa0, fa1; fmv.x.d a0, fa2)
  // comparisons: quiet for feq, signalling for flt/fle
  csrw fflags, zero
  TEST_CASE(84, 0, FD(fa0, QNAN_D); feq.d a0, fa0, fa0)
  FLAGS_AFTER(85, 0)
  TEST_CASE(86, 0, FD(fa0, QNAN_D); FD(fa1, ONE_D); flt.d a0, fa0, fa1)
  FLAGS_AFTER(87, NV)
  TEST_CASE(88, 0, csrw fflags, zero; FD(fa0, SNAN_D); feq.d a0, fa0, fa0)
  FLAGS_AFTER(89, NV)
  TEST_CASE(90, 1, fmv.d.x fa0, zero; FD(fa1, 0x8000000000000000); feq.d a0, fa0, fa1)
  TEST_CASE(91, 1, fmv.d.x fa0, zero; FD(fa1, 0x8000000000000000); fle.d a0, fa0, fa1)
  TEST_CASE(92, 1, FS_(fa0, ONE_S); FS_(fa1, TWO_S); flt.s a0, fa0, fa1)
  // fused multiply-add: one rounding
  TEST_CASE(93, 0x4014000000000000, FD(fa0, TWO_D); FD(fa1, TWO_D); FD(fa2, ONE_D); fmadd.d fa3, fa0, fa1, fa2; fmv.x.d a0, fa3)
  TEST_CASE(94, 0x4008000000000000, fmsub.d fa3, fa0, fa1, fa2; fmv.x.d a0, fa3)
  TEST_CASE(95, 0xc014000000000000, fnmadd.d fa3, fa0, fa1, fa2; fmv.x.d a0, fa3)
  TEST_CASE(96, 0xc008000000000000, fnmsub.d fa3, fa0, fa1, fa2; fmv.x.d a0, fa3)
  TEST_CASE(97, 0xffffffff40a00000, FS_(fa0, TWO_S); FS_(fa1, TWO_S); FS_(fa2, ONE_S); fmadd.s fa3, fa0, fa1, fa2; fmv.x.d a0, fa3)
  csrw fflags, zero
  TEST_CASE(98, QNAN_D, FD(fa0, INF_D); fmv.d.x fa1, zero; FD(fa2, QNAN_D); fmadd.d fa3, fa0, fa1, fa2; fmv.x.d a0, fa3)
  FLAGS_AFTER(99, NV)        // inf * 0 + qNaN raises invalid
  // sign injection on doubles
  TEST_CASE(100, 0xbff0000000000000, FD(fa0, ONE_D); FD(fa1, 0x8000000000000000); fsgnj.d fa2, fa0, fa1; fmv.x.d a0, fa2)
  TEST_CASE(101, 0x3ff0000000000000, FD(fa0, 0xbff0000000000000); fsgnjn.d fa2, fa0, fa0; fmv.x.d a0, fa2)
  TEST_CASE(102, 0x3ff0000000000000, FD(fa0, 0xbff0000000000000); fsgnjx.d fa2, fa0, fa0; fmv.x.d a0, fa2)
  TEST_CASE(103, 0x7ff0000000000001, FD(fa0, 0xfff0000000000001); fabs.d fa2, fa0; fmv.x.d a0, fa2)  // no canonicalisation
  // fclass.d
  TEST_CASE(104, 0x001, FD(fa0, 0xfff0000000000000); fclass.d a0, fa0)
  TEST_CASE(105, 0x004, FD(fa0, 0x800fffffffffffff); fclass.d a0, fa0)
  TEST_CASE(106, 0x008, FD(fa0, 0x8000000000000000); fclass.d a0, fa0)
  TEST_CASE(107, 0x010, fmv.d.x fa0, zero; fclass.d a0, fa0)
  TEST_CASE(108, 0x020, FD(fa0, 1); fclass.d a0, fa0)
  TEST_CASE(109, 0x080, FD(fa0, INF_D); fclass.d a0, fa0)
  TEST_CASE(110, 0x100, FD(fa0, SNAN_D); fclass.d a0, fa0)
  TEST_CASE(111, 0x200, FD(fa0, QNAN_D); fclass.d a0, fa0)

  // mstatus.FS: an FP write from Initial makes it Dirty and sets SD
  li t0, MSTATUS_FS
  csrc mstatus, t0
  li t0, (1 << 13)
  csrs mstatus, t0
  TEST_CASE(112, (1 << 13), csrr a0, mstatus; li t0, MSTATUS_FS; and a0, a0, t0)
  TEST_CASE(113, MSTATUS_FS, fmv.d.x fa0, zero; csrr a0, mstatus; li t0, MSTATUS_FS; and a0, a0, t0)
  TEST_CASE(114, 1, csrr a0, mstatus; srli a0, a0, 63)
  TEST_CASE(115, 1, csrr a0, sstatus; srli a0, a0, 63)
  // FS = Off: FP instructions and FP CSRs are illegal, mtval = instruction
  li t0, MSTATUS_FS
  csrc mstatus, t0
  TEST_CASE(116, 0, csrr a0, mstatus; srli a0, a0, 63)
  TEST_TRAP_TVAL_IMM(117, CAUSE_ILLEGAL_INSTRUCTION, 0x02b57653, fadd.d fa2, fa0, fa1, dyn)
  TEST_TRAP_TVAL_IMM(118, CAUSE_ILLEGAL_INSTRUCTION, 0x00043507, .option push; .option norvc; fld fa0, 0(s0); .option pop)
  TEST_TRAP_TVAL_IMM(119, CAUSE_ILLEGAL_INSTRUCTION, 0x00a43427, .option push; .option norvc; fsd fa0, 8(s0); .option pop)
  TEST_TRAP_TVAL_IMM(120, CAUSE_ILLEGAL_INSTRUCTION, 0xf2000553, fmv.d.x fa0, zero)
  TEST_TRAP_TVAL_IMM(121, CAUSE_ILLEGAL_INSTRUCTION, 0xe2050553, fmv.x.d a0, fa0)
  TEST_TRAP_TVAL_IMM(122, CAUSE_ILLEGAL_INSTRUCTION, 0x00302573, csrr a0, fcsr)
  TEST_TRAP_TVAL_IMM(123, CAUSE_ILLEGAL_INSTRUCTION, 0x00215073, csrwi frm, 2)
  TEST_TRAP_TVAL_IMM(124, CAUSE_ILLEGAL_INSTRUCTION, 0x00102573, csrr a0, fflags)
  TEST_TRAP_TVAL_IMM(125, CAUSE_ILLEGAL_INSTRUCTION, 0x2008, c.fld fa0, 0(s0))
  TEST_TRAP_TVAL_IMM(126, CAUSE_ILLEGAL_INSTRUCTION, 0xa02a, c.fsdsp fa0, 0(sp))
  TEST_CASE(127, 0, csrr a0, mstatus; li t0, MSTATUS_FS; and a0, a0, t0)   // still off
  li t0, (1 << 13)
  csrs mstatus, t0
  TEST_CASE(128, 0x400921fb54442d18, fld fa0, 0(s0); fmv.x.d a0, fa0)
TEST_END

  .data
  .balign 16
fp_data:
  .dword 0x400921fb54442d18    // pi
  .word 0x40490fdb, 0           // pi (single)
  .space 32
