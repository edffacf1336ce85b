/*
 * The process VM benchmark: CRC32 (table-driven, IEEE) over 64 MiB of
 * generated data, then a 256x256 integer matrix product. Prints one result
 * line, identical on every target. Builds for riscv64 and for the host.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define DATA_BYTES (64u << 20)
#define N 256

static uint32_t table[256];

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
}

static uint32_t crc32(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

static int32_t a[N][N], b[N][N], c[N][N];

int main(void) {
  uint8_t *data = malloc(DATA_BYTES);
  if (data == NULL) return 1;
  uint32_t x = 12345;
  for (size_t i = 0; i < DATA_BYTES; i++) {
    x = x * 1103515245u + 12345u;
    data[i] = (uint8_t)(x >> 16);
  }
  crc_init();
  uint32_t crc = crc32(data, DATA_BYTES);
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      a[i][j] = (i * 7 + j * 3) % 101 - 50;
      b[i][j] = (i * 5 + j * 11) % 97 - 48;
    }
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      int32_t s = 0;
      for (int k = 0; k < N; k++) s += a[i][k] * b[k][j];
      c[i][j] = s;
    }
  int64_t trace = 0;
  for (int i = 0; i < N; i++) trace += c[i][i] + c[i][N - 1 - i];
  printf("crc32 %08x matmul %lld\n", crc, (long long)trace);
  free(data);
  return 0;
}
