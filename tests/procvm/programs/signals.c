/* Signal delivery: handlers, siginfo, masks, alternate stack, ucontext, nesting. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

static volatile sig_atomic_t got_usr1, got_usr2, got_alrm, depth, max_depth;
static volatile int info_ok;
static char altstack[65536];
static volatile int on_alt;

static void h_usr1(int sig) { got_usr1 += sig == SIGUSR1; }
static void h_info(int sig, siginfo_t *si, void *ucv) {
  ucontext_t *uc = ucv;
  info_ok = si->si_signo == sig && si->si_pid == getpid() && si->si_code == SI_TKILL && uc != NULL &&
            sigismember(&uc->uc_sigmask, SIGUSR1) == 0;
}
static void h_alt(int sig) {
  char local;
  (void)sig;
  on_alt = &local >= altstack && &local < altstack + sizeof altstack;
}
static void h_nest(int sig) {
  depth++;
  if (depth > max_depth) max_depth = depth;
  if (sig == SIGUSR1) raise(SIGUSR2);
  depth--;
  got_usr2 += sig == SIGUSR2;
}
static void h_alrm(int sig) { (void)sig; got_alrm++; }
static volatile int skipped;
static void h_segv(int sig, siginfo_t *si, void *ucv) {
  (void)sig; (void)si;
  ucontext_t *uc = ucv;
  /* Step over the faulting instruction (a 4-byte store, or 2 if compressed). */
  unsigned short insn = *(unsigned short *)uc->uc_mcontext.__gregs[REG_PC];
  uc->uc_mcontext.__gregs[REG_PC] += (insn & 3) == 3 ? 4 : 2;
  skipped++;
}
static volatile int fp_ok;
static void h_fp(int sig) {
  (void)sig;
  volatile double x = 1.5;
  for (int i = 0; i < 10; i++) x = x * 3.25 + 1;
  fp_ok = x > 0;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  signal(SIGUSR1, h_usr1);
  raise(SIGUSR1);
  kill(getpid(), SIGUSR1);
  printf("usr1 handled %d times\n", got_usr1);

  struct sigaction sa = {0};
  sa.sa_sigaction = h_info;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  printf("siginfo ok %d\n", info_ok);

  sigset_t set, old, pend;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  signal(SIGUSR1, h_usr1);
  got_usr1 = 0;
  sigprocmask(SIG_BLOCK, &set, &old);
  raise(SIGUSR1);
  printf("blocked: handled %d\n", got_usr1);
  sigpending(&pend);
  printf("pending usr1 %d\n", sigismember(&pend, SIGUSR1));
  sigprocmask(SIG_SETMASK, &old, NULL);
  printf("unblocked: handled %d\n", got_usr1);

  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  printf("sigaltstack %d\n", sigaltstack(&ss, NULL));
  sa.sa_handler = h_alt;
  sa.sa_flags = SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR2, &sa, NULL);
  raise(SIGUSR2);
  printf("ran on alt stack %d\n", on_alt);
  stack_t cur;
  sigaltstack(NULL, &cur);
  printf("altstack flags %d size ok %d\n", cur.ss_flags, cur.ss_size == sizeof altstack);

  sa.sa_handler = h_nest;
  sa.sa_flags = 0;
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGUSR2, &sa, NULL);
  raise(SIGUSR1);
  printf("nested depth %d usr2 %d\n", max_depth, got_usr2);

  sa.sa_handler = h_usr1;
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGUSR1, &sa, NULL);
  got_usr1 = 0;
  raise(SIGUSR1);
  struct sigaction now;
  sigaction(SIGUSR1, NULL, &now);
  printf("resethand: handled %d, now default %d\n", got_usr1, now.sa_handler == SIG_DFL);

  signal(SIGUSR2, SIG_IGN);
  raise(SIGUSR2);
  printf("ignored SIGUSR2 survived\n");

  sa.sa_sigaction = h_segv;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, NULL);
  *(volatile int *)16 = 1;
  printf("skipped faulting store %d\n", skipped);

  signal(SIGUSR1, h_fp);
  volatile double before = 2.0 / 3.0;
  raise(SIGUSR1);
  printf("fp in handler %d, fp state kept %d\n", fp_ok, before == 2.0 / 3.0);

  signal(SIGALRM, h_alrm);
  struct itimerval it = {{0, 0}, {0, 20000}};
  setitimer(ITIMER_REAL, &it, NULL);
  sigset_t none;
  sigemptyset(&none);
  while (!got_alrm) sigsuspend(&none);
  printf("alarm %d\n", got_alrm);

  alarm(0);
  sigprocmask(SIG_BLOCK, &set, NULL);
  raise(SIGUSR1);
  int sig = 0;
  sigwait(&set, &sig);
  printf("sigwait got %d\n", sig);

  printf("kill bad signal: %d %s\n", kill(getpid(), 999), strerrorname_np(errno));
  printf("kill no such pid: %d %s\n", kill(999999, 0), strerrorname_np(errno));
  signal(SIGTERM, SIG_DFL);
  raise(SIGTERM);
  printf("not reached\n");
  return 0;
}
