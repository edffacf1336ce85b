/*
 * Named pipes: mkfifo / mknodat(S_IFIFO), opens that wait for the other
 * end (and O_NONBLOCK's exceptions), EOF when the writers are gone, poll and
 * epoll readiness, O_RDWR, the buffer dropped once nobody holds the FIFO.
 * argv[1]: a scratch directory.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "check.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int revents(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT};
  return poll(&p, 1, 0) < 0 ? -1 : p.revents;
}

int main(int argc, char **argv) {
  if (argc < 2 || chdir(argv[1]) != 0) return 2;
  setvbuf(stdout, NULL, _IOLBF, 0);
  umask(022);
  CHECK("mkfifo f 0666", mkfifo("f", 0666));
  struct stat st;
  CHECK("stat f", stat("f", &st));
  printf("fifo: %d mode %o size %ld\n", S_ISFIFO(st.st_mode), st.st_mode & 07777, (long)st.st_size);
  CHECK("mknodat g S_IFIFO|0600", mknodat(AT_FDCWD, "g", S_IFIFO | 0600, 0));
  CHECK("mkfifo f again", mkfifo("f", 0666));
  CHECK("mkfifo in missing dir", mkfifo("nodir/f", 0666));

  /* Non-blocking opens. */
  CHECK("open O_WRONLY|O_NONBLOCK, no reader", open("f", O_WRONLY | O_NONBLOCK));
  int r = open("f", O_RDONLY | O_NONBLOCK);
  CHECK("open O_RDONLY|O_NONBLOCK", r >= 0);
  char buf[64];
  CHECK("read, no writer ever", read(r, buf, sizeof buf));
  printf("poll reader, no writer yet: %#x\n", revents(r));
  int w = open("f", O_WRONLY | O_NONBLOCK);
  CHECK("open O_WRONLY|O_NONBLOCK with reader", w >= 0);
  printf("poll reader: %#x, writer: %#x\n", revents(r), revents(w));
  CHECK("fstat writer", fstat(w, &st));
  printf("fstat fifo: %d\n", S_ISFIFO(st.st_mode));
  CHECK("write abc", write(w, "abc", 3));
  printf("poll reader: %#x\n", revents(r));
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN}, out;
  CHECK("epoll_ctl add reader", epoll_ctl(ep, EPOLL_CTL_ADD, r, &ev));
  CHECK("epoll_wait (data)", epoll_wait(ep, &out, 1, 0));
  printf("events %#x\n", out.events);
  CHECK("read", read(r, buf, sizeof buf));
  CHECK("read empty O_NONBLOCK", read(r, buf, sizeof buf));
  CHECK("epoll_wait (drained)", epoll_wait(ep, &out, 1, 0));
  CHECK("close writer", close(w));
  printf("poll reader after writer closed: %#x\n", revents(r));
  CHECK("epoll_wait (hangup)", epoll_wait(ep, &out, 1, 0));
  printf("events %#x\n", out.events);
  CHECK("read at EOF", read(r, buf, sizeof buf));
  close(ep);
  close(r);

  /* A blocking read-open waits for a writer. */
  pid_t pid = fork();
  if (pid == 0) {
    usleep(200000);
    int fd = open("f", O_WRONLY);
    if (write(fd, "from child", 10) != 10) _exit(1);
    close(fd);
    _exit(0);
  }
  double t0 = now();
  r = open("f", O_RDONLY);
  printf("blocking O_RDONLY open waited for the writer: %s\n", r >= 0 && now() - t0 > 0.1 ? "yes" : "no");
  int total = 0, n;
  while ((n = read(r, buf + total, sizeof buf - total)) > 0) total += n;
  printf("read %d <%.*s> then %d\n", total, total, buf, n);
  close(r);
  int status;
  waitpid(pid, &status, 0);
  printf("writer child: %d\n", WEXITSTATUS(status));

  /* A blocking write-open waits for a reader. */
  pid = fork();
  if (pid == 0) {
    usleep(200000);
    int fd = open("f", O_RDONLY);
    int got = 0;
    while ((n = read(fd, buf + got, sizeof buf - got)) > 0) got += n;
    _exit(got);
  }
  t0 = now();
  w = open("f", O_WRONLY);
  printf("blocking O_WRONLY open waited for the reader: %s\n", w >= 0 && now() - t0 > 0.1 ? "yes" : "no");
  CHECK("write 12345", write(w, "12345", 5));
  close(w);
  waitpid(pid, &status, 0);
  printf("reader child read %d\n", WEXITSTATUS(status));

  /* O_RDWR never waits; the data goes when the last open goes. */
  int rw = open("g", O_RDWR);
  CHECK("open g O_RDWR", rw >= 0);
  printf("poll O_RDWR: %#x\n", revents(rw));
  CHECK("write", write(rw, "kept?", 5));
  CHECK("read back", read(rw, buf, 5));
  CHECK("write again", write(rw, "lost", 4));
  close(rw);
  rw = open("g", O_RDWR | O_NONBLOCK);
  CHECK("read after reopen", read(rw, buf, sizeof buf));
  /* Unlinked while open: still works. */
  CHECK("unlink g", unlink("g"));
  CHECK("write after unlink", write(rw, "zz", 2));
  CHECK("read after unlink", read(rw, buf, sizeof buf));
  close(rw);
  CHECK("unlink f", unlink("f"));
  return 0;
}
