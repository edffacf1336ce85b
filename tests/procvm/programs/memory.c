/* mmap, munmap, mprotect, mremap, madvise, malloc at scale, file mappings. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static sigjmp_buf jb;
static volatile void *fault_addr;
static void on_segv(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  fault_addr = si->si_addr;
  printf("%s code=%d\n", sig == SIGBUS ? "SIGBUS" : "SIGSEGV", si->si_code);
  siglongjmp(jb, 1);
}

#define CHECK(what, expr) do { long r_ = (long)(expr); printf("%-30s = %ld%s%s\n", what, r_, r_ < 0 ? " " : "", r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  long pg = sysconf(_SC_PAGESIZE);
  printf("page size %ld\n", pg);
  struct sigaction sa = {0};
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, NULL);

  char *a = mmap(NULL, 16 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK("mmap anon ok", a != MAP_FAILED);
  int zero = 1;
  for (long i = 0; i < 16 * pg; i++) zero &= a[i] == 0;
  printf("anon zeroed %d\n", zero);
  memset(a, 7, 16 * pg);
  CHECK("mprotect ro", mprotect(a + 4 * pg, pg, PROT_READ));
  printf("read ro page: %d\n", a[4 * pg]);
  if (sigsetjmp(jb, 1) == 0) { a[4 * pg + 10] = 1; printf("write to ro page did not fault\n"); }
  printf("fault at offset %ld\n", (long)((char *)fault_addr - a));
  CHECK("munmap middle", munmap(a + 8 * pg, 2 * pg));
  if (sigsetjmp(jb, 1) == 0) { a[8 * pg] = 1; printf("unmapped write did not fault\n"); }
  printf("fault at offset %ld\n", (long)((char *)fault_addr - a));
  printf("after hole still mapped: %d\n", a[10 * pg]);
  CHECK("mprotect none", mprotect(a, pg, PROT_NONE));
  if (sigsetjmp(jb, 1) == 0) { printf("%d", a[5]); printf("PROT_NONE read did not fault\n"); }
  CHECK("mprotect rw back", mprotect(a, pg, PROT_READ | PROT_WRITE));
  printf("content kept across PROT_NONE: %d\n", a[5]);
  CHECK("mprotect unmapped", mprotect(a + 8 * pg, pg, PROT_READ));
  CHECK("munmap unaligned", munmap(a + 1, pg));
  CHECK("mmap len 0", (long)mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  CHECK("mmap bad fd", (long)mmap(NULL, pg, PROT_READ, MAP_PRIVATE, 99, 0));

  char *r = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  strcpy(r, "remap me");
  r[2 * pg - 1] = 'z';
  char *r2 = mremap(r, 2 * pg, 64 * pg, MREMAP_MAYMOVE);
  CHECK("mremap grow", r2 != MAP_FAILED);
  printf("mremap kept: %s %c %d\n", r2, r2[2 * pg - 1], r2[40 * pg]);
  char *r3 = mremap(r2, 64 * pg, pg, 0);
  CHECK("mremap shrink in place", r3 == r2);
  CHECK("madvise", madvise(r3, pg, MADV_DONTNEED));
  printf("after MADV_DONTNEED: %d\n", r3[0]);

  char *fixed = mmap(a + 8 * pg, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  CHECK("MAP_FIXED into hole", fixed == a + 8 * pg);
  /* Linux fails with EEXIST; qemu 7.2 moves the mapping. Either way the old one stays. */
  char *nr = mmap(a, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  printf("MAP_FIXED_NOREPLACE kept old mapping: %d\n", nr != a && a[5] == 7);

  char path[256];
  snprintf(path, sizeof path, "%s/mapped.bin", argc > 1 ? argv[1] : "/tmp");
  int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
  for (int i = 0; i < 3 * 4096; i++) { char c = 'a' + i % 26; write(fd, &c, 1); }
  char *m = mmap(NULL, 4 * pg, PROT_READ, MAP_PRIVATE, fd, pg);
  CHECK("mmap file", m != MAP_FAILED);
  printf("file map: %c%c%c tail=%d\n", m[0], m[1], m[2], m[2 * pg - 1]);
  struct sigaction bus = {0};
  bus.sa_sigaction = on_segv;
  bus.sa_flags = SA_SIGINFO;
  sigaction(SIGBUS, &bus, NULL);
  if (sigsetjmp(jb, 1) == 0) { printf("%d", m[2 * pg + 5]); printf("past-EOF read did not fault\n"); }
  printf("past-EOF fault at offset %ld\n", (long)((char *)fault_addr - m));
  char *mw = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  mw[0] = '#';
  char c0;
  pread(fd, &c0, 1, 0);
  printf("private write not in file: %c %c\n", mw[0], c0);
  close(fd);
  unlink(path);

  size_t big = 64 << 20;
  unsigned char *h = malloc(big);
  CHECK("malloc 64M", h != NULL);
  for (size_t i = 0; i < big; i += 4096) h[i] = (unsigned char)(i >> 12);
  unsigned long sum = 0;
  for (size_t i = 0; i < big; i += 4096) sum += h[i];
  printf("sum %lu\n", sum);
  free(h);
  void *ptrs[1000];
  for (int i = 0; i < 1000; i++) { ptrs[i] = malloc(17 * i + 1); memset(ptrs[i], i, 17 * i + 1); }
  int ok = 1;
  for (int i = 0; i < 1000; i++) ok &= ((unsigned char *)ptrs[i])[17 * i] == (unsigned char)i;
  for (int i = 0; i < 1000; i++) free(ptrs[i]);
  printf("many mallocs ok %d\n", ok);
  return 0;
}
