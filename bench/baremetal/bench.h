/* Helpers shared by the bare-metal benchmarks: UART output only. */
#ifndef BENCH_H
#define BENCH_H
#include <stdint.h>

#define UART ((volatile uint8_t *)0x10000000)

static inline void put_char(char c) {
  while ((UART[5] & 0x20) == 0) {
  }
  UART[0] = (uint8_t)c;
}

static inline void put_str(const char *s) {
  while (*s) put_char(*s++);
}

static inline void put_hex(uint64_t v) {
  for (int shift = 60; shift >= 0; shift -= 4) put_char("0123456789abcdef"[(v >> shift) & 15]);
}

/* Prints "name result\n": the bench compares this line between targets. */
static inline void report(const char *name, uint64_t result) {
  put_str(name);
  put_char(' ');
  put_hex(result);
  put_char('\n');
}
#endif
