/*
 * A deterministic workload for the snapshot exactness test: integer, FP,
 * LR/SC and memory work under CLINT timer interrupts, printing a running
 * hash. Where the interrupts land (mepc) and the counters it reads go into
 * the hash, so any state a save/restore loses changes the output.
 */
#include <stdint.h>
#include "../../../bench/baremetal/bench.h"

#define CLINT_MTIMECMP ((volatile uint64_t *)0x2004000)
#define CLINT_MTIME ((volatile uint64_t *)0x200bff8)
#define INTERVAL 700

static volatile uint64_t ticks;
static volatile uint64_t trap_hash;
static uint64_t shared_word;
static uint64_t table[16384]; /* 128 KiB: many pages written */

__attribute__((interrupt("machine"), aligned(4))) static void on_trap(void) {
  uint64_t mepc, mcause;
  __asm__ volatile("csrr %0, mepc" : "=r"(mepc));
  __asm__ volatile("csrr %0, mcause" : "=r"(mcause));
  trap_hash = (trap_hash ^ mepc ^ (mcause << 7)) * 0x100000001b3ULL;
  ticks++;
  *CLINT_MTIMECMP = *CLINT_MTIME + INTERVAL;
}

static uint64_t mix(uint64_t h, uint64_t v) {
  return (h ^ v) * 0x9e3779b97f4a7c15ULL + (h >> 29);
}

int main(void) {
  __asm__ volatile("csrw mtvec, %0" ::"r"(on_trap));
  *CLINT_MTIMECMP = *CLINT_MTIME + INTERVAL;
  __asm__ volatile("csrs mie, %0" ::"r"(1 << 7));
  __asm__ volatile("csrsi mstatus, 8");
  uint64_t h = 1469598103934665603ULL;
  double x = 1.0;
  for (uint32_t round = 0; round < 48; round++) {
    for (uint32_t i = 0; i < 20000; i++) {
      uint64_t k = (h >> 17) & 16383;
      table[k] = table[k] * 31 + i + round;
      h = mix(h, table[(k * 7) & 16383]);
      x = x * 1.0000001 + (double)(i & 7) / 3.0;
      uint64_t old = __atomic_load_n(&shared_word, __ATOMIC_RELAXED);
      while (!__atomic_compare_exchange_n(&shared_word, &old, old + (h & 0xff), 1, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
      }
    }
    uint64_t instret, cycle;
    __asm__ volatile("csrr %0, minstret" : "=r"(instret));
    __asm__ volatile("csrr %0, mcycle" : "=r"(cycle));
    h = mix(h, instret ^ (cycle << 1) ^ *CLINT_MTIME);
    h = mix(h, (uint64_t)x ^ shared_word ^ trap_hash ^ ticks);
    report("round", h);
  }
  report("ticks", ticks);
  return 0;
}
