/* Debugged by tests/debug/gdb.test.ts: a signal stops the program under exec -g as under qemu-riscv64 -g. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int *target = NULL;

static void on_usr1(int sig) {
  static const char msg[] = "handled SIGUSR1\n";
  write(1, msg, sizeof msg - 1);
}

__attribute__((noinline)) void crash(int depth) {
  int local = depth * 7;
  *target = local;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && strcmp(argv[1], "usr1") == 0) {
    signal(SIGUSR1, on_usr1);
    raise(SIGUSR1);
    printf("after raise\n");
    return 0;
  }
  printf("about to crash\n");
  crash(6);
  return 0;
}
