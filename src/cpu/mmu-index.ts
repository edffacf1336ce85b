/** MMU indexes: one TLB per effective privilege of an access. */
export const MMU_U = 0;
export const MMU_S = 1;
export const MMU_M = 2;
