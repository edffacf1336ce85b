/** FFLAGS bits (the accrued exception flags). */
export const FLAG_NV = 16; // invalid operation
export const FLAG_DZ = 8; // divide by zero
export const FLAG_OF = 4; // overflow
export const FLAG_UF = 2; // underflow
export const FLAG_NX = 1; // inexact

/** Rounding modes as encoded in the rm field and in frm. */
export const RM_RNE = 0; // to nearest, ties to even
export const RM_RTZ = 1; // toward zero
export const RM_RDN = 2; // down (toward -inf)
export const RM_RUP = 3; // up (toward +inf)
export const RM_RMM = 4; // to nearest, ties away from zero
export const RM_DYN = 7; // use frm

/** The two formats, as in the instructions' fmt field. */
export const FMT_S = 0;
export const FMT_D = 1;

/** Canonical quiet NaNs (RISC-V never propagates NaN payloads). */
export const CANONICAL_NAN_S = 0x7fc00000;
export const CANONICAL_NAN_D_HI = 0x7ff80000;
