/* 128x128 integer matrix multiply, repeated, with a checksum of the result. */
#include "bench.h"

#define N 128
#define REPEAT 16
static int32_t a[N][N], b[N][N], c[N][N];

int main(void) {
  uint32_t x = 12345;
  for (int i = 0; i < N; i++) {
    for (int j = 0; j < N; j++) {
      x = x * 1103515245u + 12345u;
      a[i][j] = (int32_t)(x >> 16) % 1000 - 500;
      x = x * 1103515245u + 12345u;
      b[i][j] = (int32_t)(x >> 16) % 1000 - 500;
    }
  }
  uint64_t sum = 0;
  for (int r = 0; r < REPEAT; r++) {
    for (int i = 0; i < N; i++) {
      for (int j = 0; j < N; j++) {
        int32_t acc = 0;
        for (int k = 0; k < N; k++) acc += a[i][k] * b[k][j];
        c[i][j] = acc;
      }
    }
    for (int i = 0; i < N; i++)
      for (int j = 0; j < N; j++) sum = sum * 31 + (uint32_t)c[i][j];
    a[r][r] += 1;
  }
  report("matmul", sum);
  return 0;
}
