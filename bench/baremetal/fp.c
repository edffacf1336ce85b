/* Floating-point kernel: a 2-D heat-diffusion stencil plus an n-body step,
   in double precision, with sqrt and division. */
#include "bench.h"

#define G 96
#define STEPS 400
#define BODIES 48
static double grid[2][G][G];
static double px[BODIES], py[BODIES], vx[BODIES], vy[BODIES], m[BODIES];

static double my_sqrt(double v) {
  double r;
  __asm__("fsqrt.d %0, %1" : "=f"(r) : "f"(v));
  return r;
}

int main(void) {
  for (int i = 0; i < G; i++)
    for (int j = 0; j < G; j++) grid[0][i][j] = (i == G / 2 && j == G / 2) ? 1000.0 : (double)((i * 7 + j * 3) % 11) * 0.01;
  int cur = 0;
  for (int s = 0; s < STEPS; s++) {
    for (int i = 1; i < G - 1; i++)
      for (int j = 1; j < G - 1; j++)
        grid[1 - cur][i][j] = grid[cur][i][j] + 0.2 * (grid[cur][i - 1][j] + grid[cur][i + 1][j] + grid[cur][i][j - 1] +
                                                       grid[cur][i][j + 1] - 4.0 * grid[cur][i][j]);
    cur = 1 - cur;
  }
  for (int i = 0; i < BODIES; i++) {
    px[i] = (double)(i % 7) - 3.0 + i * 0.01;
    py[i] = (double)(i % 5) - 2.0 - i * 0.02;
    vx[i] = vy[i] = 0.0;
    m[i] = 1.0 + (i % 3) * 0.5;
  }
  for (int s = 0; s < 200; s++) {
    for (int i = 0; i < BODIES; i++) {
      double ax = 0, ay = 0;
      for (int j = 0; j < BODIES; j++) {
        if (i == j) continue;
        double dx = px[j] - px[i], dy = py[j] - py[i];
        double d2 = dx * dx + dy * dy + 0.01;
        double inv = 1.0 / (d2 * my_sqrt(d2));
        ax += m[j] * dx * inv;
        ay += m[j] * dy * inv;
      }
      vx[i] += 0.001 * ax;
      vy[i] += 0.001 * ay;
    }
    for (int i = 0; i < BODIES; i++) {
      px[i] += 0.001 * vx[i];
      py[i] += 0.001 * vy[i];
    }
  }
  double total = 0;
  for (int i = 0; i < G; i++)
    for (int j = 0; j < G; j++) total += grid[cur][i][j];
  for (int i = 0; i < BODIES; i++) total += px[i] * 3.0 + py[i];
  union {
    double d;
    uint64_t u;
  } bits = {total};
  report("fp", bits.u);
  return 0;
}
