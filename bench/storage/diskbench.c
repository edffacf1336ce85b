/*
 * In-guest disk benchmark for bench/guest-disk-io.ts: O_DIRECT I/O on a
 * block device, timed with CLOCK_MONOTONIC (which follows the host's clock
 * on both QEMU and Typevisor).
 *
 *   diskbench DEVICE seqread MIB | seqwrite MIB | randread COUNT [SEED] | randwrite COUNT [SEED]
 *
 * Prints one line: "<mode> <MB/s or IOPS> <unit> <checksum>".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 4 && argc != 5) {
    fprintf(stderr, "usage: diskbench DEVICE seqread MIB | seqwrite MIB | randread COUNT [SEED] | randwrite COUNT [SEED]\n");
    return 2;
  }
  const char *mode = argv[2];
  long n = atol(argv[3]);
  int scattered = strcmp(mode, "randread") == 0 || strcmp(mode, "randwrite") == 0;
  int write = strcmp(mode, "seqwrite") == 0 || strcmp(mode, "randwrite") == 0;
  int fd = open(argv[1], (write ? O_WRONLY : O_RDONLY) | O_DIRECT);
  if (fd < 0) { perror(argv[1]); return 1; }
  off_t size = lseek(fd, 0, SEEK_END);
  size_t chunk = scattered ? 4096 : 1 << 20;
  unsigned char *buf;
  if (posix_memalign((void **)&buf, 4096, chunk)) return 1;
  memset(buf, 0x5a, chunk);
  unsigned long sum = 0;
  unsigned int seed = argc == 5 ? (unsigned int)atol(argv[4]) : 12345;
  double start = now();
  long ops = n;
  for (long i = 0; i < ops; i++) {
    off_t at;
    if (chunk == 4096) {
      seed = seed * 1103515245u + 12345u;
      at = (off_t)(seed % (unsigned int)(size / 4096)) * 4096;
    } else {
      at = (off_t)i * chunk % size;
    }
    ssize_t r = write ? pwrite(fd, buf, chunk, at) : pread(fd, buf, chunk, at);
    if (r != (ssize_t)chunk) { perror("io"); return 1; }
    if (!write) sum += buf[0] + buf[chunk - 1];
  }
  if (write) fsync(fd);
  double secs = now() - start;
  if (chunk == 4096) printf("%s %.0f IOPS %lu\n", mode, ops / secs, sum);
  else printf("%s %.1f MB/s %lu\n", mode, ops * (double)chunk / secs / 1e6, sum);
  return 0;
}
