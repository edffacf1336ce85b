/*
 * A hostile program: thousands of system calls with random arguments
 * (small ints, -1, huge lengths, NULL, wild, unmapped and guard-page
 * pointers, random structs). The process VM must answer every one with a
 * value or an errno: no host crash, no "internal error". Calls that would
 * only end or unmap this program itself (exit, execve, kill, munmap of its
 * code, sigaction) are left out or pointed at a region of its own; an
 * interval timer ends calls that would wait forever. Names it creates are
 * single components from [a-e0-3] in the scratch directory it runs in.
 * Usage: syscall-fuzz SEED ITERATIONS (cwd: a scratch directory).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

static uint64_t state;
static uint64_t next(void) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

/* Allowed calls. Left out: exit, exit_group, execve, clone, clone3, kill, tkill, tgkill,
 * rt_sigaction, rt_sigreturn, setitimer, timer_create, rt_(tg)sigqueueinfo (could kill or
 * re-aim this program's signals), chdir/fchdir (names must stay in the scratch dir), bind,
 * connect, sendto, sendmsg, sendmmsg (no packets to random hosts), and munmap/mremap/
 * mprotect/madvise/mmap/brk, which get their own region below. */
static const int calls[] = {
  17, 19, 20, 21, 22, 23, 24, 25, 29, 32, 33, 34, 35, 36, 37, 38, 43, 44, 45, 46, 47, 48, 52, 53, 54, 55,
  56, 57, 59, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 78, 79, 80, 81, 82, 83, 85, 86, 87,
  88, 90, 91, 92, 95, 96, 98, 99, 100, 101, 102, 108, 109, 110, 111, 113, 114, 115, 118, 119, 120, 121,
  122, 123, 124, 125, 126, 132, 133, 135, 136, 137, 140, 141, 143, 144, 145, 146, 147, 148, 149, 150,
  151, 152, 153, 154, 155, 156, 157, 158, 159, 160, 161, 163, 164, 165, 166, 167, 168, 169, 172, 173,
  174, 175, 176, 177, 178, 179, 198, 199, 201, 202, 204, 205, 207, 208, 209, 210, 212, 223, 227, 228,
  229, 230, 231, 232, 242, 243, 259, 260, 261, 267, 276, 278, 283, 291, 436, 439, 441,
  /* unknown numbers too */
  300, 459, 1000,
};
#define NCALLS (sizeof calls / sizeof calls[0])
static const int memcalls[] = {SYS_munmap, SYS_mremap, SYS_mprotect, SYS_madvise, SYS_mmap, SYS_brk};

static char *scratch;   /* 64 KiB of random bytes from [a-e0-3] and NULs, then a guard page */
static char *region;    /* 1 MiB the memory calls may tear apart */
#define SCRATCH 65536
#define REGION (1 << 20)

static void refill(void) {
  static const char alphabet[] = "abcde0123";
  for (int i = 0; i < SCRATCH; i++) {
    uint64_t r = next() % 16;
    scratch[i] = r < 9 ? alphabet[r] : r < 11 ? 0 : (char)(next() & 0xff);
    if (scratch[i] == '/' || scratch[i] == '.') scratch[i] = 'a';
  }
  /* Some well-formed small structs: timespecs of 0..999 ns and 0 s, small fd arrays. */
  for (int i = 0; i < 64; i++) ((int64_t *)scratch)[i] = (int64_t)(next() % 1000);
}

static uint64_t arg(void) {
  switch (next() % 14) {
    case 0: return 0;
    case 1: return (uint64_t)-1;
    case 2: return next() % 16;                                   /* small ints, fds */
    case 3: return (uint64_t)(int64_t)-100;                        /* AT_FDCWD */
    case 4: return (uint64_t)(scratch + next() % SCRATCH);          /* inside the buffer */
    case 5: return (uint64_t)(scratch + SCRATCH - (next() % 64));   /* runs into the guard page */
    case 6: return 0xdeadbeef000ULL + (next() % 4096);             /* unmapped */
    case 7: return next();                                         /* anything */
    case 8: return next() % 4096;
    case 9: return 1ULL << (next() % 64);
    case 10: return (uint64_t)(region + (next() % REGION));
    case 11: return 0x7fffffffULL;
    case 12: return next() % 0x10000;
    default: return (uint64_t)scratch;
  }
}

static void on_alarm(int s) { (void)s; }

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  state = strtoull(argv[1], NULL, 0) | 1;
  long iterations = strtol(argv[2], NULL, 0);
  int out = dup3(1, 900, 0) >= 0 ? 900 : 1;
  scratch = mmap(NULL, SCRATCH + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  mprotect(scratch + SCRATCH, 4096, PROT_NONE);
  region = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  struct sigaction sa = {0};
  sa.sa_handler = on_alarm; /* no SA_RESTART: a waiting call ends with EINTR */
  sigaction(SIGALRM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTTOU, SIG_IGN);
  signal(SIGTTIN, SIG_IGN);
  struct itimerval it = {{0, 20000}, {0, 20000}};
  setitimer(ITIMER_REAL, &it, NULL);
  sigset_t none;
  sigemptyset(&none);
  long answered = 0;
  for (long i = 0; i < iterations; i++) {
    if (i % 64 == 0) refill();
    long nr;
    uint64_t a[6] = {arg(), arg(), arg(), arg(), arg(), arg()};
    if (next() % 8 == 0) {
      nr = memcalls[next() % 6];
      uint64_t page = next() % (REGION / 4096);
      a[0] = (uint64_t)(region + page * 4096);
      /* Lengths stay inside the region: beyond it are this program's buffer and signal trampoline. */
      a[1] = (next() % (REGION / 4096 - page + 1)) * 4096 + (next() % 2 ? next() % 4096 : 0);
      if (a[1] > REGION - page * 4096) a[1] = REGION - page * 4096;
      if (nr == SYS_mremap) a[2] = a[1];
      if (nr == SYS_mmap) a[3] &= ~(uint64_t)(MAP_FIXED | MAP_FIXED_NOREPLACE);
      if (nr == SYS_mremap) a[3] &= ~(uint64_t)2; /* no MREMAP_FIXED */
      if (nr == SYS_brk) a[0] = 0;
    } else {
      nr = calls[next() % NCALLS];
      if (nr == SYS_close_range && a[1] >= 900) a[1] = 899; /* keep the report fd */
      if (nr == SYS_dup3 && a[1] == 900) a[1] = 901;
    }
    syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    answered++;
    sigprocmask(SIG_SETMASK, &none, NULL); /* the fuzz may have blocked SIGALRM */
  }
  it.it_value.tv_usec = it.it_interval.tv_usec = 0;
  setitimer(ITIMER_REAL, &it, NULL);
  dprintf(out, "answered %ld calls\n", answered);
  return 0;
}
