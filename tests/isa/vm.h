// Page-table helpers for the vm-*.S programs (include after harness.h).
// Tables are built at run time because a PTE holds a physical page number,
// which the assembler cannot compute from a relocatable label.

#define SATP_SV39 (8 << 60)
#define SATP_SV48 (9 << 60)
#define SATP_SV57 (10 << 60)
#define PTE_V 0x01
#define PTE_R 0x02
#define PTE_W 0x04
#define PTE_X 0x08
#define PTE_U 0x10
#define PTE_G 0x20
#define PTE_A 0x40
#define PTE_D 0x80
#define PTE_RWX (PTE_R | PTE_W | PTE_X)
#define PTE_LEAF(flags) ((flags) | PTE_V | PTE_A | PTE_D)

// table[index] = PTE for the physical address in pa_reg (not t0..t2).
#define SET_PTE(table, index, pa_reg, flags) \
  la t0, table; li t2, (index) * 8; add t0, t0, t2; \
  srli t1, pa_reg, 12; slli t1, t1, 10; ori t1, t1, flags; sd t1, 0(t0)
#define SET_PTE_LABEL(table, index, label, flags) la t3, label; SET_PTE(table, index, t3, flags)
#define SET_PTE_IMM(table, index, pa, flags) li t3, pa; SET_PTE(table, index, t3, flags)
#define LOAD_PTE(reg, table, index) la reg, table; li t2, (index) * 8; add reg, reg, t2; ld reg, 0(reg)
#define PTE_ADDR(reg, table, index) la reg, table; li t2, (index) * 8; add reg, reg, t2

// satp = mode | PPN(root); sfence.vma.
#define SET_SATP(mode, root) la t0, root; srli t0, t0, 12; li t1, mode; or t0, t0, t1; csrw satp, t0; sfence.vma

// U-mode code runs from the user alias of RAM (VA = PA + USER_ALIAS_OFFSET),
// mapped with U=1; PC-relative addresses (la) then land in the alias too.
#define USER_ALIAS_OFFSET 0x40000000
#define ENTER_U_ALIAS(target) \
  li t0, MSTATUS_MPP; csrc mstatus, t0; \
  la t0, target; li t1, USER_ALIAS_OFFSET; add t0, t0, t1; csrw mepc, t0; mret
#define IN_U_ALIAS(n, ...) \
  TEST_TRAP(n, CAUSE_USER_ECALL, ENTER_U_ALIAS(7780f); 7780: __VA_ARGS__; ecall)
#define TEST_TRAP_IN_U_ALIAS(n, cause, ...) \
  TEST_TRAP(n, cause, ENTER_U_ALIAS(7781f); 7781: __VA_ARGS__; ecall)

// Checks trap_tval == constant VA.
#define CHECK_TVAL(n, va) LOAD_WORD(s11, trap_tval); CHECK_IMM(n, s11, va)
