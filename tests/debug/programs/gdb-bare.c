/* Debugged by tests/debug/gdb-system.test.ts under typevisor run -S --gdb and qemu-system-riscv64 -S -gdb. */
#define FINISHER ((volatile unsigned int *)0x100000)

volatile int counter = 41;
volatile int mode = 1;
volatile int spin = 0;

__attribute__((noinline)) int compute(int x) {
  int y = x * 2;
  y += counter;
  return y;
}

void main(void) {
  int r = compute(5);
  int code = r == 51 ? 5 : 1;
  if (mode == 7) code = 3;
  while (spin) {
  }
  *FINISHER = (code << 16) | 0x3333;
}
