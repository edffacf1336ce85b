/* Breakpoints patched into memory: a function hit in a loop, one never
 * called, a long loop (the cost of a set breakpoint), and a fork whose child
 * calls the breakpointed function (it must not stop, nor die of SIGTRAP), as
 * does a vfork child, which shares the patched memory;
 * "trap": the program's own ebreak, which stays a SIGTRAP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

volatile long total;

void never(void) {
  puts("never called");
}

void tick(long i) {
  total += i;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "fork") == 0) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      tick(100);
      printf("child total=%ld\n", total);
      fflush(stdout);
      _exit(7);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    tick(1);
    printf("child exited %d, parent total=%ld\n", WEXITSTATUS(status), total);
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "vfork") == 0) {
    pid_t pid = vfork();
    if (pid == 0) {
      tick(0); /* qemu-user's vfork is a fork: change nothing the parent would see */
      _exit(7);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    tick(1);
    printf("vfork child exited %d, total=%ld\n", WEXITSTATUS(status), total);
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "trap") == 0) {
    tick(1);
    __builtin_trap(); /* ebreak */
  }
  for (long i = 1; i <= 5; i++) tick(i);
  long spins = argc > 1 ? atol(argv[1]) : 1000;
  for (long i = 0; i < spins; i++) total += i & 1;
  printf("total=%ld\n", total);
  return 0;
}
