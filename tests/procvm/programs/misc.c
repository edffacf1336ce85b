/* Time, ids, uname, limits, affinity, random, terminal ioctls on non-terminals. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

int main(void) {
  struct timespec a, b, r;
  clock_gettime(CLOCK_MONOTONIC, &a);
  struct timespec req = {0, 30 * 1000 * 1000};
  printf("nanosleep %d\n", nanosleep(&req, NULL));
  clock_gettime(CLOCK_MONOTONIC, &b);
  long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
  printf("slept >= 30ms: %d, < 2s: %d\n", ms >= 30, ms < 2000);
  struct timespec abs;
  clock_gettime(CLOCK_MONOTONIC, &abs);
  abs.tv_nsec += 10 * 1000 * 1000;
  if (abs.tv_nsec >= 1000000000) { abs.tv_sec++; abs.tv_nsec -= 1000000000; }
  printf("clock_nanosleep abs %d\n", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL));
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  printf("realtime agrees with gettimeofday: %d\n", rt.tv_sec - tv.tv_sec <= 1 && rt.tv_sec >= tv.tv_sec);
  printf("realtime after 2020: %d\n", rt.tv_sec > 1577836800);
  printf("clock_getres %d\n", clock_getres(CLOCK_MONOTONIC, &r) == 0 && r.tv_sec == 0 && r.tv_nsec > 0);
  printf("bad clock: %d %s\n", clock_gettime(12345, &r), strerrorname_np(errno));
  struct timespec cpu;
  printf("cputime %d\n", clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu) == 0);
  printf("time() close: %d\n", time(NULL) - rt.tv_sec <= 1);

  printf("pid>0 %d tid==pid %d ppid>0 %d\n", getpid() > 0, syscall(SYS_gettid) == getpid(), getppid() > 0);
  printf("uid %d euid %d gid %d egid %d\n", getuid(), geteuid(), getgid(), getegid());
  struct utsname u;
  uname(&u);
  printf("uname %s %s\n", u.sysname, u.machine);
  struct rlimit rl;
  printf("getrlimit stack %d\n", getrlimit(RLIMIT_STACK, &rl));
  printf("stack soft>=1MiB %d\n", rl.rlim_cur >= (1 << 20));
  printf("getrlimit nofile %d soft>0 %d\n", getrlimit(RLIMIT_NOFILE, &rl), rl.rlim_cur > 0);
  cpu_set_t set;
  CPU_ZERO(&set);
  printf("sched_getaffinity %d count>=1 %d\n", sched_getaffinity(0, sizeof set, &set), CPU_COUNT(&set) >= 1);
  unsigned char rnd[64];
  printf("getrandom %zd\n", getrandom(rnd, sizeof rnd, 0));
  int nz = 0;
  for (int i = 0; i < 64; i++) nz += rnd[i] != 0;
  printf("random nonzero bytes > 40: %d\n", nz > 40);
  struct termios t;
  printf("tcgetattr on /dev/null: %d %s\n", tcgetattr(0, &t), strerrorname_np(errno));
  struct winsize ws;
  printf("TIOCGWINSZ on /dev/null: %d %s\n", ioctl(0, TIOCGWINSZ, &ws), strerrorname_np(errno));
  printf("isatty(0) %d\n", isatty(0));
  printf("sched_yield %d\n", sched_yield());
  printf("getpgrp==pid %d\n", getpgrp() == getpid() || getpgrp() > 0);
  char host[256];
  printf("gethostname %d\n", gethostname(host, sizeof host));
  printf("unknown syscall: %ld %s\n", syscall(440 + 100), strerrorname_np(errno));

  struct statfs fs1, fs2;
  printf("statfs / %d bsize>0 %d blocks>=bfree>=bavail %d namelen %ld\n", statfs("/", &fs1), fs1.f_bsize > 0,
         fs1.f_blocks >= fs1.f_bfree && fs1.f_bfree >= fs1.f_bavail, (long)fs1.f_namelen);
  int fd = open("/", O_RDONLY | O_DIRECTORY);
  printf("fstatfs agrees with statfs: %d\n", fstatfs(fd, &fs2) == 0 && fs2.f_type == fs1.f_type && fs2.f_blocks == fs1.f_blocks);
  close(fd);
  printf("statfs missing: %d %s\n", statfs("/no/such/dir", &fs1), strerrorname_np(errno));
  printf("fstatfs bad fd: %d %s\n", fstatfs(999, &fs1), strerrorname_np(errno));
  long q = syscall(SYS_membarrier, 0 /* QUERY */, 0, 0);
  printf("membarrier query has PRIVATE_EXPEDITED %d\n", q > 0 && (q & 8) != 0);
  printf("membarrier register %ld expedited %ld\n", syscall(SYS_membarrier, 16, 0, 0), syscall(SYS_membarrier, 8, 0, 0));
  printf("membarrier bad flags %ld %s\n", syscall(SYS_membarrier, 8, 5, 0), strerrorname_np(errno));
  return 0;
}
