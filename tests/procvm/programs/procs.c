/* fork, vfork, failed execve, wait4, pipes between processes, SIGCHLD, SIGPIPE, exit statuses. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int chld;
static void on_chld(int sig) { (void)sig; chld++; }

static void describe(const char *what, int status) {
  if (WIFEXITED(status)) printf("%s: exited %d\n", what, WEXITSTATUS(status));
  else if (WIFSIGNALED(status)) printf("%s: killed by %s\n", what, sigabbrev_np(WTERMSIG(status)));
  else printf("%s: status %#x\n", what, status);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  signal(SIGCHLD, on_chld);
  pid_t p = fork();
  if (p == 0) _exit(42);
  int st;
  printf("waitpid returns child %d\n", waitpid(p, &st, 0) == p);
  describe("fork child", st);

  int data = 1;
  p = fork();
  if (p == 0) { data = 2; printf("child sees data %d\n", data); _exit(0); }
  waitpid(p, &st, 0);
  printf("parent data still %d\n", data);

  p = fork();
  if (p == 0) { raise(SIGKILL); _exit(1); }
  waitpid(p, &st, 0);
  describe("killed child", st);

  p = fork();
  if (p == 0) { *(volatile int *)0 = 1; _exit(1); }
  waitpid(p, &st, 0);
  describe("segv child", st);

  p = vfork();
  if (p == 0) _exit(7);
  waitpid(p, &st, 0);
  describe("vfork child", st);

  int fds[2];
  pipe(fds);
  p = fork();
  if (p == 0) {
    close(fds[0]);
    for (int i = 0; i < 1000; i++) dprintf(fds[1], "line %d\n", i);
    _exit(0);
  }
  close(fds[1]);
  char buf[65536];
  long total = 0, lines = 0;
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) {
    total += n;
    for (ssize_t i = 0; i < n; i++) lines += buf[i] == '\n';
  }
  close(fds[0]);
  waitpid(p, &st, 0);
  printf("pipe: %ld bytes %ld lines\n", total, lines);

  /* A big write through a pipe (larger than its capacity). */
  pipe(fds);
  p = fork();
  if (p == 0) {
    close(fds[0]);
    char *big = malloc(1 << 20);
    memset(big, 'x', 1 << 20);
    size_t off = 0;
    while (off < (1 << 20)) { ssize_t w = write(fds[1], big + off, (1 << 20) - off); if (w <= 0) _exit(3); off += w; }
    _exit(0);
  }
  close(fds[1]);
  total = 0;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) total += n;
  close(fds[0]);
  waitpid(p, &st, 0);
  printf("big pipe: %ld bytes\n", total);
  describe("big writer", st);

  /* Writing to a pipe nobody reads. */
  pipe(fds);
  close(fds[0]);
  signal(SIGPIPE, SIG_IGN);
  printf("write to closed pipe: %zd %s\n", write(fds[1], "x", 1), strerrorname_np(errno));
  signal(SIGPIPE, SIG_DFL);
  p = fork();
  if (p == 0) { write(fds[1], "x", 1); _exit(0); }
  close(fds[1]);
  waitpid(p, &st, 0);
  describe("sigpipe child", st);

  printf("execve missing: %d %s\n", execl("/nonexistent/prog", "prog", NULL), strerrorname_np(errno));
  printf("wait with no children: %d %s\n", wait(NULL), strerrorname_np(errno));
  p = fork();
  if (p == 0) { usleep(200000); _exit(3); }
  printf("WNOHANG: %d\n", waitpid(p, &st, WNOHANG));
  waitpid(p, &st, 0);
  describe("late child", st);
  printf("sigchld seen %d\n", chld > 0);
  printf("getppid in child matches: ");
  pid_t me = getpid();
  p = fork();
  if (p == 0) { printf("%d\n", getppid() == me); _exit(0); }
  waitpid(p, NULL, 0);
  return 0;
}
