/*
 * The process's own /proc files: maps (and pthread_getattr_np, which reads
 * it to find the main thread's stack), stat, cmdline and auxv must
 * describe the guest program, not the emulator.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

static int self_in_maps(const char *exe) {
  void *anon = mmap(NULL, 3 * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  FILE *f = fopen("/proc/self/maps", "r");
  if (f == NULL) return -1;
  char line[1024];
  int code = 0, stack_ok = 0, anon_ok = 0, local = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi, off;
    char perms[8], path[512] = "";
    if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %511s", &lo, &hi, perms, &off, path) < 4) continue;
    if (strcmp(path, exe) == 0 && strcmp(perms, "r-xp") == 0 && off == 0) code = 1;
    if (strcmp(path, "[stack]") == 0 && (unsigned long)&local >= lo && (unsigned long)&local < hi) stack_ok = 1;
    if ((unsigned long)anon >= lo && (unsigned long)anon < hi && strcmp(perms, "r--p") == 0) anon_ok = 1;
  }
  fclose(f);
  printf("maps: exe r-xp at offset 0 %d, [stack] holds a local %d, new r--p mapping %d\n", code, stack_ok, anon_ok);
  return 0;
}

int main(int argc, char **argv) {
  char exe[512];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n < 0 ? 0 : n] = 0;
  self_in_maps(exe);

  pthread_attr_t a;
  void *addr = NULL;
  size_t size = 0;
  int r = pthread_getattr_np(pthread_self(), &a);
  pthread_attr_getstack(&a, &addr, &size);
  int local;
  printf("pthread_getattr_np %d, stack >= 64 KiB %d, holds a local %d\n", r, size >= 65536,
         (char *)&local >= (char *)addr && (char *)&local < (char *)addr + size);

  FILE *f = fopen("/proc/self/stat", "r");
  int pid = 0, ppid = 0;
  char comm[64] = "", state = 0;
  if (f != NULL && fscanf(f, "%d %63s %c %d", &pid, comm, &state, &ppid) == 4)
    printf("stat: pid ok %d ppid ok %d comm %s\n", pid == getpid(), ppid == getppid(), comm);
  if (f != NULL) fclose(f);

  f = fopen("/proc/self/cmdline", "r");
  char buf[4096];
  size_t len = f ? fread(buf, 1, sizeof buf, f) : 0;
  printf("cmdline:");
  for (size_t i = 0, start = 0; i < len; i++)
    if (buf[i] == 0) {
      printf(" [%s]", buf + start);
      start = i + 1;
    }
  printf("\n");
  if (f != NULL) fclose(f);

  f = fopen("/proc/self/auxv", "r");
  Elf64_auxv_t av;
  int pagesz = 0, entry = 0, count = 0, ended = 0;
  while (f != NULL && fread(&av, sizeof av, 1, f) == 1) {
    count++;
    if (av.a_type == AT_PAGESZ) pagesz = av.a_un.a_val == getauxval(AT_PAGESZ);
    if (av.a_type == AT_ENTRY) entry = av.a_un.a_val == getauxval(AT_ENTRY);
    if (av.a_type == AT_NULL) ended = 1;
  }
  printf("auxv: AT_PAGESZ agrees %d, AT_ENTRY agrees %d, ends with AT_NULL %d, entries > 10 %d\n", pagesz, entry, ended,
         count > 10);
  f = fopen("/proc/self/maps", "r+");
  printf("open for writing: %s\n", f == NULL ? "refused" : getuid() == 0 ? "allowed (root)" : "allowed");
  if (f != NULL) fclose(f);
  (void)argc;
  (void)argv;
  return 0;
}
