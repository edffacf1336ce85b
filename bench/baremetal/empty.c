/* Does nothing: measures how long a target takes to start and stop. */
#include "bench.h"

int main(void) {
  report("empty", 0);
  return 0;
}
