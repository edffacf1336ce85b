/*
 * splice, tee, sendfile and copy_file_range: data moved between pipes,
 * files and sockets (unix and TCP), offsets, SPLICE_F_NONBLOCK/MORE, and
 * the error codes Linux gives. argv[1]: a scratch directory; argv[2]: a
 * directory on another file system (EXDEV).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"

static void show(const char *label, int fd, size_t n) {
  char buf[256];
  ssize_t r = read(fd, buf, n < sizeof buf ? n : sizeof buf);
  printf("%s: <%.*s>\n", label, r > 0 ? (int)r : 0, buf);
}

static void show_file(const char *label, const char *path) {
  int fd = open(path, O_RDONLY);
  show(label, fd, 200);
  close(fd);
}

static int file_with(const char *path, const char *text) {
  int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
  if (write(fd, text, strlen(text)) < 0) perror("write");
  return fd;
}

static void pipes(void) {
  int a[2], b[2];
  if (pipe(a) || pipe(b)) exit(2);
  CHECK("write a", write(a[1], "hello pipes", 11));
  CHECK("splice a->b 5", splice(a[0], NULL, b[1], NULL, 5, 0));
  show("b has", b[0], 64);
  CHECK("splice a->b MOVE|MORE", splice(a[0], NULL, b[1], NULL, 100, SPLICE_F_MOVE | SPLICE_F_MORE));
  show("b has", b[0], 64);
  CHECK("splice empty NONBLOCK", splice(a[0], NULL, b[1], NULL, 10, SPLICE_F_NONBLOCK));
  CHECK("splice len 0", splice(a[0], NULL, b[1], NULL, 0, 0));
  CHECK("splice same pipe", splice(a[0], NULL, a[1], NULL, 10, 0));
  CHECK("splice bad flags", splice(a[0], NULL, b[1], NULL, 10, 0x100));
  loff_t off = 0;
  CHECK("splice off with pipe in", splice(a[0], &off, b[1], NULL, 10, 0));
  CHECK("splice off with pipe out", splice(a[0], NULL, b[1], &off, 10, 0));
  CHECK("splice bad fd", splice(99, NULL, b[1], NULL, 10, 0));
  CHECK("splice from write end", splice(a[1], NULL, b[1], NULL, 10, 0));
  CHECK("splice into read end", splice(a[0], NULL, b[0], NULL, 10, 0));

  CHECK("write a again", write(a[1], "abcdef", 6));
  CHECK("tee a->b 4", tee(a[0], b[1], 4, 0));
  show("a still has", a[0], 64);
  show("b got", b[0], 64);
  CHECK("tee empty NONBLOCK", tee(a[0], b[1], 4, SPLICE_F_NONBLOCK));
  CHECK("tee same pipe", tee(a[0], a[1], 4, 0));
  CHECK("tee bad flags", tee(a[0], b[1], 4, 0x40));
  CHECK("tee len 0", tee(a[0], b[1], 0, 0));

  /* Fill b, then a non-blocking splice into it. */
  fcntl(b[1], F_SETFL, O_NONBLOCK);
  char big[4096];
  memset(big, 'x', sizeof big);
  while (write(b[1], big, sizeof big) > 0) {}
  CHECK("write a 3", write(a[1], "xyz", 3));
  CHECK("splice into full O_NONBLOCK pipe", splice(a[0], NULL, b[1], NULL, 3, 0));
  close(b[0]);
  signal(SIGPIPE, SIG_IGN);
  CHECK("splice into pipe without reader", splice(a[0], NULL, b[1], NULL, 3, 0));
  CHECK("tee into pipe without reader", tee(a[0], b[1], 3, 0));
  close(a[1]);
  show("a left", a[0], 64);
  CHECK("splice from pipe without writer", splice(a[0], NULL, b[1], NULL, 3, 0));
  close(a[0]);
  close(b[1]);
}

static void files(void) {
  int f = file_with("in.txt", "0123456789abcdef");
  int p[2];
  if (pipe(p)) exit(2);
  loff_t off = 2;
  CHECK("splice file->pipe off 2 len 5", splice(f, &off, p[1], NULL, 5, 0));
  printf("off now %lld, pos %ld\n", (long long)off, (long)lseek(f, 0, SEEK_CUR));
  show("pipe has", p[0], 64);
  lseek(f, 10, SEEK_SET);
  CHECK("splice file->pipe at pos", splice(f, NULL, p[1], NULL, 100, 0));
  printf("pos %ld\n", (long)lseek(f, 0, SEEK_CUR));
  show("pipe has", p[0], 64);
  CHECK("splice at EOF", splice(f, NULL, p[1], NULL, 100, 0));

  int o = open("out.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
  CHECK("write pipe", write(p[1], "spliced!", 8));
  loff_t ooff = 4;
  CHECK("splice pipe->file off 4", splice(p[0], NULL, o, &ooff, 100, 0));
  printf("ooff now %lld, pos %ld\n", (long long)ooff, (long)lseek(o, 0, SEEK_CUR));
  CHECK("write pipe", write(p[1], "TAIL", 4));
  lseek(o, 0, SEEK_END);
  CHECK("splice pipe->file at pos", splice(p[0], NULL, o, NULL, 2, 0));
  show_file("out.txt", "out.txt");
  CHECK("splice file->file", splice(f, NULL, o, NULL, 10, 0));
  int ap = open("app.txt", O_CREAT | O_WRONLY | O_APPEND, 0644);
  CHECK("write pipe", write(p[1], "zz", 2));
  CHECK("splice pipe->O_APPEND file", splice(p[0], NULL, ap, NULL, 2, 0));
  int wo = open("in.txt", O_WRONLY);
  CHECK("splice from O_WRONLY file", splice(wo, NULL, p[1], NULL, 2, 0));
  show("pipe left", p[0], 64);

  /* sendfile */
  int q[2];
  if (pipe(q)) exit(2);
  off = 3;
  CHECK("sendfile file->pipe off 3", sendfile(q[1], f, &off, 4));
  printf("off now %lld\n", (long long)off);
  show("pipe has", q[0], 64);
  int o2 = open("out2.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
  lseek(f, 0, SEEK_SET);
  CHECK("sendfile file->file", sendfile(o2, f, NULL, 6));
  printf("pos %ld\n", (long)lseek(f, 0, SEEK_CUR));
  CHECK("sendfile file->file rest", sendfile(o2, f, NULL, 100));
  CHECK("sendfile at EOF", sendfile(o2, f, NULL, 100));
  show_file("out2.txt", "out2.txt");
  CHECK("write q", write(q[1], "through", 7));
  CHECK("sendfile pipe->file", sendfile(o2, q[0], NULL, 7));
  CHECK("sendfile pipe->pipe", sendfile(p[1], q[0], NULL, 7));
  CHECK("sendfile pipe with offset", sendfile(o2, q[0], &off, 7));
  show("q still has", q[0], 64);
  CHECK("sendfile to O_APPEND", sendfile(ap, f, NULL, 1));
  CHECK("sendfile bad in", sendfile(o2, 77, NULL, 1));
  CHECK("sendfile bad out", sendfile(77, f, NULL, 1));
  CHECK("sendfile from O_WRONLY", sendfile(o2, wo, NULL, 1));
  CHECK("sendfile count 0", sendfile(o2, f, NULL, 0));
  close(ap);
  close(wo);
  close(o);
  close(o2);
  close(f);
  close(p[0]);
  close(p[1]);
  close(q[0]);
  close(q[1]);
}

static void copy_range(const char *other) {
  int in = file_with("cin.txt", "copy_file_range works");
  int out = open("cout.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
  lseek(in, 0, SEEK_SET);
  CHECK("copy_file_range 4", copy_file_range(in, NULL, out, NULL, 4, 0));
  printf("pos in %ld out %ld\n", (long)lseek(in, 0, SEEK_CUR), (long)lseek(out, 0, SEEK_CUR));
  loff_t oi = 5, oo = 10;
  CHECK("copy_file_range offsets", copy_file_range(in, &oi, out, &oo, 100, 0));
  printf("oi %lld oo %lld pos in %ld out %ld\n", (long long)oi, (long long)oo, (long)lseek(in, 0, SEEK_CUR),
         (long)lseek(out, 0, SEEK_CUR));
  show_file("cout.txt", "cout.txt");
  oi = 1000;
  CHECK("copy_file_range past EOF", copy_file_range(in, &oi, out, NULL, 10, 0));
  CHECK("copy_file_range flags", copy_file_range(in, NULL, out, NULL, 10, 1));
  CHECK("copy_file_range bad in", copy_file_range(88, NULL, out, NULL, 10, 0));
  CHECK("copy_file_range bad out", copy_file_range(in, NULL, 88, NULL, 10, 0));
  oi = 0;
  oo = 2;
  CHECK("copy_file_range overlapping", copy_file_range(in, &oi, in, &oo, 10, 0));
  oo = 100;
  CHECK("copy_file_range same file apart", copy_file_range(in, &oi, in, &oo, 4, 0));
  int p[2];
  if (pipe(p)) exit(2);
  CHECK("copy_file_range to pipe", copy_file_range(in, NULL, p[1], NULL, 4, 0));
  int d = open(".", O_RDONLY | O_DIRECTORY);
  CHECK("copy_file_range from dir", copy_file_range(d, NULL, out, NULL, 4, 0));
  int ap = open("capp.txt", O_CREAT | O_WRONLY | O_APPEND, 0644);
  CHECK("copy_file_range to O_APPEND", copy_file_range(in, NULL, ap, NULL, 4, 0));
  int wo = open("cin.txt", O_WRONLY);
  CHECK("copy_file_range from O_WRONLY", copy_file_range(wo, NULL, out, NULL, 4, 0));
  char path[4096];
  snprintf(path, sizeof path, "%s/typevisor-splice-%d", other, getpid());
  int x = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
  oi = 0;
  CHECK("copy_file_range across file systems", copy_file_range(in, &oi, x, NULL, 4, 0));
  unlink(path);
  close(x);
  close(wo);
  close(ap);
  close(d);
  close(p[0]);
  close(p[1]);
  close(in);
  close(out);
}

/* Moves everything from `from` to `to` through a pipe, as Go's splice path does. */
static long relay(int from, int to, size_t total) {
  int p[2];
  if (pipe(p)) return -1;
  size_t moved = 0;
  while (moved < total) {
    ssize_t n = splice(from, NULL, p[1], NULL, 65536, SPLICE_F_MOVE);
    if (n <= 0) break;
    while (n > 0) {
      ssize_t m = splice(p[0], NULL, to, NULL, n, SPLICE_F_MOVE | SPLICE_F_MORE);
      if (m <= 0) return -1;
      n -= m;
      moved += m;
    }
  }
  close(p[0]);
  close(p[1]);
  return moved;
}

static unsigned checksum(int fd, size_t total) {
  unsigned sum = 0;
  size_t got = 0;
  char buf[8192];
  while (got < total) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; i++) sum = sum * 31 + (unsigned char)buf[i];
    got += n;
  }
  return sum + (unsigned)got;
}

/* A writer child sends `total` bytes into w; the parent relays r -> s and reads them back from t. */
static void sockets_pair(const char *label, int w, int r, int s, int t, size_t total) {
  pid_t pid = fork();
  if (pid == 0) {
    char buf[8192];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)(i * 7 + 3);
    size_t sent = 0;
    while (sent < total) {
      ssize_t n = write(w, buf, total - sent < sizeof buf ? total - sent : sizeof buf);
      if (n <= 0) _exit(1);
      sent += n;
    }
    _exit(0);
  }
  close(w);
  pid_t reader = fork();
  if (reader == 0) {
    close(s);
    printf("%s: reader checksum %u\n", label, checksum(t, total));
    fflush(stdout);
    _exit(0);
  }
  close(t);
  long relayed = relay(r, s, total);
  close(s);
  close(r);
  int st;
  waitpid(pid, &st, 0);
  waitpid(reader, &st, 0);
  /* After the reader's line: two processes printing at once came out in either order. */
  printf("%s: relayed %ld\n", label, relayed);
  fflush(stdout);
}

static int tcp_pair(int *client, int *server) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) || getsockname(l, (struct sockaddr *)&a, &len)) return -1;
  *client = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(*client, (struct sockaddr *)&a, sizeof a)) return -1;
  *server = accept(l, NULL, NULL);
  close(l);
  return 0;
}

static void sockets(void) {
  int u1[2], u2[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, u1) || socketpair(AF_UNIX, SOCK_STREAM, 0, u2)) exit(2);
  sockets_pair("unix", u1[0], u1[1], u2[0], u2[1], 300000);

  int c1, s1, c2, s2;
  if (tcp_pair(&c1, &s1) || tcp_pair(&c2, &s2)) {
    perror("tcp");
    exit(2);
  }
  sockets_pair("tcp", c1, s1, c2, s2, 1000000);

  /* Socket edge cases: non-blocking empty socket, sendfile from a socket, file -> socket. */
  int u[2], p[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, u) || pipe(p)) exit(2);
  CHECK("splice empty socket NONBLOCK", splice(u[1], NULL, p[1], NULL, 10, SPLICE_F_NONBLOCK));
  int f = file_with("sock.txt", "file to socket");
  loff_t off = 0;
  CHECK("sendfile file->socket", sendfile(u[0], f, &off, 100));
  show("socket got", u[1], 64);
  CHECK("write socket", write(u[0], "sock", 4));
  CHECK("sendfile socket->file", sendfile(f, u[1], NULL, 4));
  CHECK("sendfile socket->pipe", sendfile(p[1], u[1], NULL, 4));
  show("pipe got", p[0], 64);
  CHECK("write pipe", write(p[1], "back", 4));
  CHECK("splice pipe->socket", splice(p[0], NULL, u[0], NULL, 4, 0));
  show("socket got", u[1], 64);
  close(f);
}

int main(int argc, char **argv) {
  if (argc < 3 || chdir(argv[1]) != 0) return 2;
  setvbuf(stdout, NULL, _IOLBF, 0);
  pipes();
  files();
  copy_range(argv[2]);
  sockets();
  return 0;
}
