/*
 * POSIX timers (timer_create with SIGEV_SIGNAL, SIGEV_NONE and glibc's
 * SIGEV_THREAD, which runs on SIGEV_THREAD_ID underneath), overruns, and
 * sigqueue's values. Prints only what does not depend on timing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile int handled, handled_code, handled_value, handled_pid_ok;

static void on_signal(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  (void)uc;
  handled++;
  handled_code = si->si_code;
  handled_value = si->si_value.sival_int;
  handled_pid_ok = si->si_pid == getpid();
}

static sem_t fired;
static volatile int thread_value;
static void on_thread_timer(union sigval v) {
  thread_value = v.sival_int;
  sem_post(&fired);
}

static struct itimerspec after_ms(long first, long every) {
  struct itimerspec its = {{every / 1000, (every % 1000) * 1000000}, {first / 1000, (first % 1000) * 1000000}};
  return its;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct sigaction sa = {0};
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGUSR2, &sa, NULL);

  /* One-shot SIGEV_SIGNAL with a value, waited for with sigsuspend. */
  struct sigevent sev = {0};
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGUSR1;
  sev.sigev_value.sival_int = 1234;
  timer_t t1;
  printf("create: %d\n", timer_create(CLOCK_MONOTONIC, &sev, &t1));
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigprocmask(SIG_BLOCK, &block, &old);
  struct itimerspec its = after_ms(10, 0);
  printf("settime: %d\n", timer_settime(t1, 0, &its, NULL));
  struct itimerspec cur;
  timer_gettime(t1, &cur);
  printf("armed: %d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 10000000);
  while (handled == 0) sigsuspend(&old);
  printf("one-shot: handled %d code SI_TIMER %d value %d\n", handled, handled_code == SI_TIMER, handled_value);
  timer_gettime(t1, &cur);
  printf("disarmed after firing: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);

  /* Periodic, signal blocked: the expirations pile up as overruns of one signal. */
  its = after_ms(2, 2);
  timer_settime(t1, 0, &its, NULL);
  usleep(40000);
  siginfo_t si;
  int sig = sigwaitinfo(&block, &si);
  printf("periodic: sig %d code SI_TIMER %d overrun >= 5 %d value %d\n", sig, si.si_code == SI_TIMER, si.si_overrun >= 5,
         si.si_value.sival_int);
  printf("getoverrun >= 0: %d\n", timer_getoverrun(t1) >= 0);
  struct itimerspec stop = after_ms(0, 0), prev;
  timer_settime(t1, 0, &stop, &prev);
  printf("previous interval %ld ns\n", prev.it_interval.tv_nsec);
  sigprocmask(SIG_SETMASK, &old, NULL);
  printf("delete: %d, settime after delete: %d %s\n", timer_delete(t1), timer_settime(t1, 0, &its, NULL),
         strerrorname_np(errno));

  /* SIGEV_NONE: nothing is sent; the time left still runs down. */
  struct sigevent none = {0};
  none.sigev_notify = SIGEV_NONE;
  timer_t t2;
  timer_create(CLOCK_REALTIME, &none, &t2);
  its = after_ms(500, 0);
  timer_settime(t2, 0, &its, NULL);
  usleep(20000);
  timer_gettime(t2, &cur);
  printf("SIGEV_NONE runs down: %d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec < 490000000 && cur.it_value.tv_nsec > 0);
  timer_delete(t2);

  /* Absolute time already past: fires at once. */
  timer_t t3;
  handled = 0;
  timer_create(CLOCK_REALTIME, &sev, &t3);
  struct itimerspec past = {{0, 0}, {1, 0}};
  timer_settime(t3, TIMER_ABSTIME, &past, NULL);
  while (handled == 0) pause();
  printf("absolute past: handled %d\n", handled);
  timer_delete(t3);

  /* glibc's SIGEV_THREAD: a helper thread runs the callback. */
  sem_init(&fired, 0, 0);
  struct sigevent th = {0};
  th.sigev_notify = SIGEV_THREAD;
  th.sigev_notify_function = on_thread_timer;
  th.sigev_value.sival_int = 99;
  timer_t t4;
  printf("SIGEV_THREAD create: %d\n", timer_create(CLOCK_MONOTONIC, &th, &t4));
  its = after_ms(5, 0);
  timer_settime(t4, 0, &its, NULL);
  sem_wait(&fired);
  printf("SIGEV_THREAD callback value %d\n", thread_value);
  timer_delete(t4);

  /* Default sigevent: SIGALRM carrying the timer id. */
  printf("bad clock: %d %s\n", timer_create(12345, NULL, &t1), strerrorname_np(errno));
  struct sigevent bad = {0};
  bad.sigev_notify = 77;
  printf("bad notify: %d %s\n", timer_create(CLOCK_MONOTONIC, &bad, &t1), strerrorname_np(errno));

  /* sigqueue: the value travels with the signal. */
  handled = 0;
  union sigval v = {.sival_int = 77};
  printf("sigqueue: %d\n", sigqueue(getpid(), SIGUSR2, v));
  while (handled == 0) pause();
  printf("sigqueue: code SI_QUEUE %d value %d pid ok %d\n", handled_code == SI_QUEUE, handled_value, handled_pid_ok);
  printf("sigqueue to nobody: %d %s\n", sigqueue(999999, SIGUSR2, v), strerrorname_np(errno));
  return 0;
}
