/* Process start-up: argv, envp, auxv, stack alignment, brk. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <elf.h>
#include <link.h>

extern char **environ;

static int count_phdrs(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  if (info->dlpi_name == NULL || info->dlpi_name[0] == '\0') *(int *)data = info->dlpi_phnum;
  return 0;
}

int main(int argc, char **argv) {
  printf("argc=%d\n", argc);
  for (int i = 1; i < argc; i++) printf("argv[%d]=<%s>\n", i, argv[i]);
  printf("argv[argc]=%p\n", (void *)argv[argc]);
  printf("PROCVM_TEST=%s\n", getenv("PROCVM_TEST") ? getenv("PROCVM_TEST") : "(unset)");
  int envc = 0;
  for (char **e = environ; *e; e++) envc++;
  printf("environ follows argv: %d\n", environ == argv + argc + 1);
  printf("envc>0: %d\n", envc > 0);
  printf("AT_PAGESZ=%lu\n", getauxval(AT_PAGESZ));
  printf("AT_HWCAP=%#lx\n", getauxval(AT_HWCAP));
  printf("AT_CLKTCK=%lu\n", getauxval(AT_CLKTCK));
  printf("AT_SECURE=%lu\n", getauxval(AT_SECURE));
  printf("AT_UID matches: %d\n", getauxval(AT_UID) == getuid() && getauxval(AT_EUID) == geteuid());
  printf("AT_GID matches: %d\n", getauxval(AT_GID) == getgid() && getauxval(AT_EGID) == getegid());
  printf("AT_PHENT=%lu\n", getauxval(AT_PHENT));
  const char *execfn = (const char *)getauxval(AT_EXECFN);
  printf("AT_EXECFN=%s\n", execfn ? execfn : "(null)");
  unsigned char *rnd = (unsigned char *)getauxval(AT_RANDOM);
  int nonzero = 0;
  for (int i = 0; rnd && i < 16; i++) nonzero |= rnd[i];
  printf("AT_RANDOM present: %d\n", rnd != NULL && nonzero != 0);
  Elf64_Phdr *ph = (Elf64_Phdr *)getauxval(AT_PHDR);
  int phnum = (int)getauxval(AT_PHNUM), from_dl = -1;
  dl_iterate_phdr(count_phdrs, &from_dl);
  printf("AT_PHDR readable, PHNUM agrees: %d\n", ph != NULL && phnum == from_dl && ph[0].p_type != 0xffffffff);
  int pt_load = 0;
  for (int i = 0; i < phnum; i++) pt_load += ph[i].p_type == PT_LOAD;
  printf("PT_LOAD segments: %d\n", pt_load > 0);
  void *entry = (void *)getauxval(AT_ENTRY);
  printf("AT_ENTRY set: %d\n", entry != NULL);
  uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
  printf("stack 16-aligned frame: %d\n", (sp & 15) == 0);
  void *b0 = sbrk(0);
  void *b1 = sbrk(1 << 20);
  void *b2 = sbrk(0);
  printf("sbrk grows: %d\n", b1 == b0 && (char *)b2 - (char *)b0 == (1 << 20));
  memset(b1, 0x5a, 1 << 20);
  printf("brk memory usable: %d\n", ((char *)b1)[12345] == 0x5a);
  sbrk(-(1 << 20));
  printf("sbrk shrinks: %d\n", sbrk(0) == b0);
  return argc == 1 ? 0 : 7;
}
