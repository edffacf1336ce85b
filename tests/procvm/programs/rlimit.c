/*
 * RLIMIT_NOFILE: what getrlimit and prlimit64 report, EMFILE exactly at the
 * soft limit, lowering and raising the soft limit up to the hard one, and
 * the calls bounded by it (F_DUPFD, dup2). Run with soft = hard (see rlimit tests).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"

/* dup(0) until it fails: the first fd refused. */
static int fill(void) {
  int last = -1, fd;
  while ((fd = dup(0)) >= 0) last = fd;
  printf("dup stopped after fd %d: %s\n", last, strerrorname_np(errno));
  return last;
}

static void release(int from, int to) {
  for (int fd = from; fd <= to; fd++) close(fd);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct rlimit r, old;
  CHECK("getrlimit", getrlimit(RLIMIT_NOFILE, &r));
  printf("soft %llu hard %llu\n", (unsigned long long)r.rlim_cur, (unsigned long long)r.rlim_max);
  CHECK("prlimit64 get", prlimit(0, RLIMIT_NOFILE, NULL, &old));
  printf("soft %llu hard %llu\n", (unsigned long long)old.rlim_cur, (unsigned long long)old.rlim_max);
  int last = fill();
  printf("EMFILE at the soft limit: %s\n", last == (int)r.rlim_cur - 1 ? "yes" : "no");
  CHECK("fcntl F_DUPFD at limit-1", fcntl(0, F_DUPFD, r.rlim_cur - 1));
  CHECK("fcntl F_DUPFD at limit", fcntl(0, F_DUPFD, r.rlim_cur));
  CHECK("dup2 to limit", dup2(0, r.rlim_cur));
  release(3, last);

  struct rlimit low = {64, r.rlim_max};
  CHECK("setrlimit soft 64", setrlimit(RLIMIT_NOFILE, &low));
  last = fill();
  printf("EMFILE at 64: %s\n", last == 63 ? "yes" : "no");
  release(3, last);
  CHECK("setrlimit soft > hard", setrlimit(RLIMIT_NOFILE, &(struct rlimit){r.rlim_max + 1, r.rlim_max}));
  CHECK("setrlimit soft back to hard", setrlimit(RLIMIT_NOFILE, &r));
  CHECK("getrlimit", getrlimit(RLIMIT_NOFILE, &low));
  printf("soft %llu hard %llu\n", (unsigned long long)low.rlim_cur, (unsigned long long)low.rlim_max);
  last = fill();
  printf("EMFILE at the raised limit: %s\n", last == (int)r.rlim_cur - 1 ? "yes" : "no");
  release(3, last);
  /* A child inherits the limit. */
  struct rlimit lower = {100, r.rlim_max};
  setrlimit(RLIMIT_NOFILE, &lower);
  if (fork() == 0) {
    getrlimit(RLIMIT_NOFILE, &low);
    printf("child soft %llu\n", (unsigned long long)low.rlim_cur);
    last = fill();
    printf("child EMFILE at 100: %s\n", last == 99 ? "yes" : "no");
    _exit(0);
  }
  int st;
  wait(&st);
  return 0;
}
