/* Debugged by tests/debug/gdb.test.ts under typevisor exec -g and qemu-riscv64 -g. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

int counter = 41;
double ratio = 2.5;
volatile int mode = 1;
volatile int spin = 1;

__attribute__((noinline)) int compute(int x) {
  int y = x * 2;
  y += counter;
  return y;
}

__attribute__((noinline)) void *worker(void *arg) {
  long id = (long)arg;
  counter += (int)id;
  return NULL;
}

int main(int argc, char **argv) {
  int r = compute(5);
  printf("compute=%d\n", r);
  pthread_t th;
  pthread_create(&th, NULL, worker, (void *)100L);
  pthread_join(th, NULL);
  printf("counter=%d ratio=%g\n", counter, ratio);
  if (argc > 1) {
    while (spin) {
    }
    printf("spun\n");
  }
  if (mode == 7) {
    printf("mode changed\n");
    return 3;
  }
  return 0;
}
