/*
 * Event files: eventfd, epoll (level/edge-triggered, oneshot, nesting,
 * errors), timerfd, signalfd, and the signal masks of epoll_pwait, ppoll
 * and pselect. Prints only what does not depend on timing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define E(x) ((x) < 0 ? strerrorname_np(errno) : "ok")

static long ms_since(struct timespec *a) {
  struct timespec b;
  clock_gettime(CLOCK_MONOTONIC, &b);
  return (b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000;
}

static void eventfds(void) {
  int fd = eventfd(3, EFD_NONBLOCK);
  uint64_t v = 0;
  printf("eventfd read %zd value %llu\n", read(fd, &v, 8), (unsigned long long)v);
  printf("eventfd empty: %zd %s\n", read(fd, &v, 8), strerrorname_np(errno));
  v = 5;
  write(fd, &v, 8);
  v = 6;
  write(fd, &v, 8);
  read(fd, &v, 8);
  printf("eventfd adds: %llu\n", (unsigned long long)v);
  printf("eventfd short read: %zd %s\n", read(fd, &v, 4), strerrorname_np(errno));
  v = UINT64_MAX;
  printf("eventfd write max: %zd %s\n", write(fd, &v, 8), strerrorname_np(errno));
  v = UINT64_MAX - 1;
  printf("eventfd fill: %zd\n", write(fd, &v, 8));
  v = 1;
  printf("eventfd overflow: %zd %s\n", write(fd, &v, 8), strerrorname_np(errno));
  struct pollfd p = {fd, POLLIN | POLLOUT, 0};
  printf("eventfd full poll: %d revents %#x\n", poll(&p, 1, 0), p.revents);
  close(fd);

  int sem = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
  uint64_t a = 0, b = 0, c = 0;
  read(sem, &a, 8);
  read(sem, &b, 8);
  printf("semaphore reads %llu %llu, third: %zd %s\n", (unsigned long long)a, (unsigned long long)b, read(sem, &c, 8),
         strerrorname_np(errno));
  close(sem);
  printf("eventfd bad flags: %d %s\n", eventfd(0, 0x40), strerrorname_np(errno));

  /* A blocking read waits for another process's write. */
  int efd = eventfd(0, 0);
  if (fork() == 0) {
    usleep(20000);
    uint64_t one = 42;
    write(efd, &one, 8);
    _exit(0);
  }
  uint64_t got = 0;
  printf("eventfd blocking read %zd value %llu\n", read(efd, &got, 8), (unsigned long long)got);
  wait(NULL);
  close(efd);
}

static void epoll_basics(void) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  printf("epoll cloexec: %d\n", (fcntl(ep, F_GETFD) & FD_CLOEXEC) != 0);
  int p[2];
  pipe(p);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1122334455667788ULL};
  printf("add: %s\n", E(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev)));
  printf("add again: %s\n", E(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev)));
  printf("mod missing: %s\n", E(epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &ev)));
  printf("del missing: %s\n", E(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL)));
  printf("add self: %s\n", E(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev)));
  printf("add bad fd: %s\n", E(epoll_ctl(ep, EPOLL_CTL_ADD, 999, &ev)));
  printf("ctl on non-epoll: %s\n", E(epoll_ctl(p[0], EPOLL_CTL_ADD, p[1], &ev)));
  printf("bad op: %s\n", E(epoll_ctl(ep, 77, p[1], &ev)));
  int reg = open("/proc/self/exe", O_RDONLY);
  printf("add regular file: %s\n", E(epoll_ctl(ep, EPOLL_CTL_ADD, reg, &ev)));
  close(reg);
  struct epoll_event out[8];
  printf("wait bad maxevents: %s\n", E(epoll_wait(ep, out, 0, 0)));
  printf("wait on non-epoll: %s\n", E(epoll_wait(p[0], out, 8, 0)));
  printf("nothing ready: %d\n", epoll_wait(ep, out, 8, 0));
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int n = epoll_wait(ep, out, 8, 30);
  printf("timeout: %d after >= 30ms %d\n", n, ms_since(&t0) >= 30);

  write(p[1], "ab", 2);
  n = epoll_wait(ep, out, 8, -1);
  printf("level: %d events %#x data %#llx\n", n, out[0].events, (unsigned long long)out[0].data.u64);
  n = epoll_wait(ep, out, 8, 0);
  printf("level again (unread): %d\n", n);

  ev.events = EPOLLIN | EPOLLET;
  ev.data.u32 = 7;
  epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
  n = epoll_wait(ep, out, 8, 0);
  printf("edge after mod: %d data %u\n", n, out[0].data.u32);
  n = epoll_wait(ep, out, 8, 0);
  printf("edge again: %d\n", n);
  write(p[1], "c", 1);
  n = epoll_wait(ep, out, 8, 0);
  printf("edge after new data: %d\n", n);
  char buf[8];
  read(p[0], buf, sizeof buf);

  ev.events = EPOLLIN | EPOLLONESHOT;
  epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
  write(p[1], "d", 1);
  printf("oneshot: %d then %d\n", epoll_wait(ep, out, 8, 0), epoll_wait(ep, out, 8, 0));
  epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
  printf("oneshot rearmed: %d\n", epoll_wait(ep, out, 8, 0));
  read(p[0], buf, sizeof buf);

  /* Write end: EPOLLOUT; after the reader closes, EPOLLERR. */
  ev.events = EPOLLOUT;
  ev.data.u32 = 2;
  epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev);
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.u32 = 1;
  epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
  n = epoll_wait(ep, out, 8, 0);
  printf("writable: %d events %#x data %u\n", n, out[0].events, out[0].data.u32);
  epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL);

  /* The item follows the open file description: a dup keeps it alive. */
  int d = dup(p[0]);
  close(p[0]);
  close(p[1]);
  n = epoll_wait(ep, out, 8, 0);
  printf("writer gone, via dup: %d events %#x data %u\n", n, out[0].events, out[0].data.u32);
  close(d);
  printf("after last close: %d\n", epoll_wait(ep, out, 8, 0));

  /* Many ready fds, few events per call: every fd is served in turn. */
  int efds[6], seen[6] = {0};
  for (int i = 0; i < 6; i++) {
    efds[i] = eventfd(1, 0);
    ev.events = EPOLLIN;
    ev.data.u32 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, efds[i], &ev);
  }
  for (int round = 0; round < 3; round++) {
    n = epoll_wait(ep, out, 2, 0);
    for (int i = 0; i < n; i++) seen[out[i].data.u32]++;
  }
  printf("fairness:");
  for (int i = 0; i < 6; i++) printf(" %d", seen[i]);
  printf("\n");
  for (int i = 0; i < 6; i++) close(efds[i]);

  /* Nesting: an epoll fd is readable when its items are; loops are refused. */
  int inner = epoll_create1(0);
  int q[2];
  pipe(q);
  ev.events = EPOLLIN;
  ev.data.u32 = 9;
  epoll_ctl(inner, EPOLL_CTL_ADD, q[0], &ev);
  ev.data.u32 = 10;
  printf("nest: %s\n", E(epoll_ctl(ep, EPOLL_CTL_ADD, inner, &ev)));
  printf("loop: %s\n", E(epoll_ctl(inner, EPOLL_CTL_ADD, ep, &ev)));
  printf("nested idle: %d\n", epoll_wait(ep, out, 8, 0));
  write(q[1], "x", 1);
  n = epoll_wait(ep, out, 8, 0);
  printf("nested ready: %d data %u\n", n, out[0].data.u32);

  /* A blocked epoll_wait wakes for another process's write. */
  if (fork() == 0) {
    usleep(20000);
    write(q[1], "y", 1);
    _exit(0);
  }
  read(q[0], buf, sizeof buf);
  n = epoll_wait(inner, out, 8, -1);
  printf("woken by child: %d data %u\n", n, out[0].data.u32);
  wait(NULL);
  close(q[0]);
  close(q[1]);
  close(inner);
  close(ep);
}

static void timerfds(void) {
  int tf = timerfd_create(CLOCK_MONOTONIC, 0);
  struct itimerspec its = {{0, 0}, {0, 20 * 1000000}};
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  printf("timerfd settime: %s\n", E(timerfd_settime(tf, 0, &its, NULL)));
  struct itimerspec cur;
  timerfd_gettime(tf, &cur);
  printf("armed: %d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 20000000);
  uint64_t ticks = 0;
  ssize_t r = read(tf, &ticks, 8);
  printf("one-shot read %zd ticks %llu after >= 20ms %d\n", r, (unsigned long long)ticks, ms_since(&t0) >= 19);
  timerfd_gettime(tf, &cur);
  printf("disarmed: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);

  /* Periodic, waited for through epoll. */
  its.it_interval.tv_nsec = 5 * 1000000;
  its.it_value.tv_nsec = 5 * 1000000;
  timerfd_settime(tf, 0, &its, NULL);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 5}, out[2];
  epoll_ctl(ep, EPOLL_CTL_ADD, tf, &ev);
  int n = epoll_wait(ep, out, 2, 2000);
  printf("periodic via epoll: %d data %u\n", n, out[0].data.u32);
  usleep(30000);
  read(tf, &ticks, 8);
  printf("periodic ticks >= 5: %d\n", ticks >= 5);
  its.it_value.tv_nsec = 0;
  struct itimerspec old;
  timerfd_settime(tf, 0, &its, &old);
  printf("old interval %ld\n", old.it_interval.tv_nsec);

  /* Absolute time in the past fires at once; non-blocking empty read. */
  int nb = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
  printf("nonblocking empty: %zd %s\n", read(nb, &ticks, 8), strerrorname_np(errno));
  struct itimerspec past = {{0, 0}, {1, 0}};
  timerfd_settime(nb, TFD_TIMER_ABSTIME, &past, NULL);
  struct pollfd p = {nb, POLLIN, 0};
  printf("past absolute: poll %d read %zd ticks %llu\n", poll(&p, 1, 1000), read(nb, &ticks, 8), (unsigned long long)ticks);
  printf("bad clock: %d %s\n", timerfd_create(12345, 0), strerrorname_np(errno));
  printf("bad flags: %s\n", E(timerfd_settime(nb, 0x10, &its, NULL)));
  printf("not a timerfd: %s\n", E(timerfd_settime(ep, 0, &its, NULL)));
  struct itimerspec bad = {{0, 0}, {0, 1000000000}};
  printf("bad nsec: %s\n", E(timerfd_settime(nb, 0, &bad, NULL)));
  close(nb);
  close(ep);
  close(tf);
}

static volatile int got_usr1;
static void on_usr1(int s) { (void)s; got_usr1++; }

static void signalfds(void) {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR1);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_NONBLOCK);
  struct signalfd_siginfo si;
  printf("signalfd empty: %zd %s\n", read(sfd, &si, sizeof si), strerrorname_np(errno));
  kill(getpid(), SIGUSR1);
  struct pollfd p = {sfd, POLLIN, 0};
  printf("signalfd poll: %d\n", poll(&p, 1, 0));
  ssize_t r = read(sfd, &si, sizeof si);
  printf("signalfd read %zd signo %u code %d pid ok %d\n", r, si.ssi_signo, si.ssi_code, si.ssi_pid == (uint32_t)getpid());
  pid_t child = fork();
  if (child == 0) _exit(7);
  int blocking = signalfd(sfd, &mask, 0); /* same fd, mask updated */
  printf("update returns same fd: %d\n", blocking == sfd);
  fcntl(sfd, F_SETFL, 0);
  r = read(sfd, &si, sizeof si);
  printf("SIGCHLD via signalfd: %zd signo %u code %d status %d pid ok %d\n", r, si.ssi_signo, si.ssi_code, si.ssi_status,
         si.ssi_pid == (uint32_t)child);
  waitpid(child, NULL, 0);
  printf("short buffer: %zd %s\n", read(sfd, &si, 100), strerrorname_np(errno));
  printf("not a signalfd: %d %s\n", signalfd(0, &mask, 0), strerrorname_np(errno));
  close(sfd);
  sigprocmask(SIG_UNBLOCK, &mask, NULL);

  /* epoll_pwait, ppoll and pselect swap in their mask for the wait only. */
  signal(SIGUSR1, on_usr1);
  sigset_t block1, empty;
  sigemptyset(&block1);
  sigaddset(&block1, SIGUSR1);
  sigemptyset(&empty);
  sigprocmask(SIG_BLOCK, &block1, NULL);
  int ep = epoll_create1(0);
  int q[2];
  pipe(q);
  struct epoll_event ev = {.events = EPOLLIN}, out[1];
  epoll_ctl(ep, EPOLL_CTL_ADD, q[0], &ev);
  kill(getpid(), SIGUSR1);
  printf("blocked, not delivered: %d\n", got_usr1);
  int n = epoll_pwait(ep, out, 1, 1000, &empty);
  printf("epoll_pwait: %d %s handler ran %d\n", n, strerrorname_np(errno), got_usr1);
  sigset_t now;
  sigprocmask(SIG_BLOCK, NULL, &now);
  printf("mask restored: %d\n", sigismember(&now, SIGUSR1));
  kill(getpid(), SIGUSR1);
  struct pollfd pp = {q[0], POLLIN, 0};
  struct timespec ts = {1, 0};
  n = ppoll(&pp, 1, &ts, &empty);
  printf("ppoll: %d %s handler ran %d\n", n, strerrorname_np(errno), got_usr1);
  kill(getpid(), SIGUSR1);
  fd_set rd;
  FD_ZERO(&rd);
  FD_SET(q[0], &rd);
  n = pselect(q[0] + 1, &rd, NULL, NULL, &ts, &empty);
  printf("pselect: %d %s handler ran %d\n", n, strerrorname_np(errno), got_usr1);
  /* With data ready, the call returns it and the signal stays pending. */
  write(q[1], "z", 1);
  kill(getpid(), SIGUSR1);
  n = epoll_pwait(ep, out, 1, 1000, &block1);
  printf("ready with mask: %d handler ran %d\n", n, got_usr1);
  sigprocmask(SIG_UNBLOCK, &block1, NULL);
  printf("after unblock: handler ran %d\n", got_usr1);
  close(ep);
  close(q[0]);
  close(q[1]);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  eventfds();
  epoll_basics();
  timerfds();
  signalfds();
  return 0;
}
