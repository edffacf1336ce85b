/* A fault with no handler ends the program as Linux would: SIGSEGV. */
#include <stdio.h>
int main(int argc, char **argv) {
  (void)argv;
  printf("about to fault\n");
  fflush(stdout);
  volatile int *p = (volatile int *)(long)(argc - 1);
  return *p;
}
