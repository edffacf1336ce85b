/* CRC-32 (IEEE, table-driven) over a 4 MiB buffer of pseudo-random bytes,
   PASSES times (the running CRC carries over). */
#include "bench.h"

#define SIZE (4u << 20)
#define PASSES 4
static uint8_t buffer[SIZE];
static uint32_t table[256];

int main(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (uint32_t i = 0; i < SIZE; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    for (int b = 0; b < 8; b++) buffer[i + b] = (uint8_t)(x >> (8 * b));
  }
  uint32_t crc = 0xffffffffu;
  for (int pass = 0; pass < PASSES; pass++)
    for (uint32_t i = 0; i < SIZE; i++) crc = table[(crc ^ buffer[i]) & 0xff] ^ (crc >> 8);
  report("crc32", crc ^ 0xffffffffu);
  return 0;
}
