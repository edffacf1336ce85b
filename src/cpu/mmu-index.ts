/**
 * MMU indexes: one TLB per effective privilege of an access. S-mode data
 * accesses with mstatus.SUM set have their own, so toggling SUM (Linux does
 * around every user copy) switches TLBs instead of flushing one.
 */
export const MMU_U = 0;
export const MMU_S = 1;
export const MMU_M = 2;
export const MMU_S_SUM = 3;
