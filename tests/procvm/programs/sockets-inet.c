/*
 * TCP and UDP on the loopback interface: a server and a forked client,
 * non-blocking connect driven by poll(), ECONNREFUSED, EADDRINUSE,
 * shutdown / EOF / EPIPE / SIGPIPE, socket options, a large transfer,
 * datagrams (truncation, connected UDP, autobind), IPv6 and dual-stack
 * listeners. Ports are always 0 (the kernel's choice) and never printed;
 * only the parent prints, children report through exit statuses.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static volatile int sigpipes;
static void on_sigpipe(int sig) { (void)sig; sigpipes++; }

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  return a;
}

/* A TCP listener on 127.0.0.1 with a kernel-chosen port; its address in *a. */
static int listener(struct sockaddr_in *a, int flags) {
  int s = socket(AF_INET, SOCK_STREAM | flags, 0);
  *a = loopback(0);
  if (bind(s, (struct sockaddr *)a, sizeof *a) != 0 || listen(s, 8) != 0) {
    perror("listener");
    exit(1);
  }
  socklen_t len = sizeof *a;
  getsockname(s, (struct sockaddr *)a, &len);
  return s;
}

static int wait_child(pid_t p) {
  int st;
  if (waitpid(p, &st, 0) != p) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int getint(int fd, int level, int name) {
  int v = -12345;
  socklen_t len = sizeof v;
  if (getsockopt(fd, level, name, &v, &len) != 0) return -errno;
  return v;
}

static int revents(int fd, short events, int timeout) {
  struct pollfd p = { fd, events, 0 };
  return poll(&p, 1, timeout) < 0 ? -1 : p.revents;
}

static long ms_since(struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void options(void) {
  printf("-- TCP socket options\n");
  int s = socket(AF_INET, SOCK_STREAM, 0);
  printf("SO_TYPE %d SO_DOMAIN %d SO_PROTOCOL %d SO_ACCEPTCONN %d SO_ERROR %d\n", getint(s, SOL_SOCKET, SO_TYPE),
         getint(s, SOL_SOCKET, SO_DOMAIN), getint(s, SOL_SOCKET, SO_PROTOCOL), getint(s, SOL_SOCKET, SO_ACCEPTCONN),
         getint(s, SOL_SOCKET, SO_ERROR));
  printf("SO_REUSEADDR %d SO_KEEPALIVE %d TCP_NODELAY %d\n", getint(s, SOL_SOCKET, SO_REUSEADDR),
         getint(s, SOL_SOCKET, SO_KEEPALIVE), getint(s, IPPROTO_TCP, TCP_NODELAY));
  int on = 5, v;
  CHECK("SO_REUSEADDR 5", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on));
  CHECK("SO_KEEPALIVE", setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on));
  CHECK("TCP_NODELAY", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on));
  printf("read back: %d %d %d\n", getint(s, SOL_SOCKET, SO_REUSEADDR), getint(s, SOL_SOCKET, SO_KEEPALIVE),
         getint(s, IPPROTO_TCP, TCP_NODELAY));
  v = 30;
  CHECK("TCP_KEEPIDLE 30", setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof v));
  printf("TCP_KEEPIDLE %d\n", getint(s, IPPROTO_TCP, TCP_KEEPIDLE));
  v = 0;
  CHECK("TCP_KEEPIDLE 0", setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof v));
  v = 65536;
  CHECK("SO_RCVBUF 64k", setsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, sizeof v));
  CHECK("SO_SNDBUF 64k", setsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, sizeof v));
  printf("SO_RCVBUF %d SO_SNDBUF %d\n", getint(s, SOL_SOCKET, SO_RCVBUF), getint(s, SOL_SOCKET, SO_SNDBUF));
  short small = 1;
  CHECK("option shorter than an int", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &small, sizeof small));
  CHECK("unknown option", setsockopt(s, SOL_SOCKET, 9999, &on, sizeof on));
  CHECK("unknown level", setsockopt(s, 9999, 1, &on, sizeof on));
  CHECK("getsockopt unknown", getsockopt(s, IPPROTO_TCP, 9999, &v, &(socklen_t){ sizeof v }));
  printf("IP_TTL %d\n", getint(s, IPPROTO_IP, IP_TTL));
  v = 300;
  CHECK("IP_TTL 300", setsockopt(s, IPPROTO_IP, IP_TTL, &v, sizeof v));
  struct linger lg = { 1, 0 };
  CHECK("SO_LINGER", setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
  socklen_t len = sizeof lg;
  memset(&lg, 0, sizeof lg);
  getsockopt(s, SOL_SOCKET, SO_LINGER, &lg, &len);
  printf("SO_LINGER %d %d len %d\n", lg.l_onoff, lg.l_linger, len);
  struct timeval tv = { 2, 500000 };
  CHECK("SO_RCVTIMEO", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
  len = sizeof tv;
  memset(&tv, 0, sizeof tv);
  getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, &len);
  printf("SO_RCVTIMEO %ld.%06ld len %d\n", (long)tv.tv_sec, (long)tv.tv_usec, len);
  tv.tv_usec = 1000000;
  CHECK("SO_RCVTIMEO bad usec", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
  len = 2;
  v = 0;
  CHECK("getsockopt 2 bytes", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &len));
  printf("len %d value %d\n", len, v);
  len = -1;
  CHECK("getsockopt negative length", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &len));
  struct ucred cred;
  len = sizeof cred;
  CHECK("SO_PEERCRED", getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len));
  printf("pid %d uid %d gid %d len %d\n", cred.pid, cred.uid, cred.gid, len);
  CHECK("SO_PASSCRED", setsockopt(s, SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
  CHECK("IPV6_V6ONLY on IPv4", setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on));
  printf("TCP_MAXSEG %d\n", getint(s, IPPROTO_TCP, TCP_MAXSEG));
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK("TCP_NODELAY on UDP", setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on));
  close(u);
  close(s);
}

static void unconnected(void) {
  printf("-- an unconnected TCP socket\n");
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  CHECK("getsockname", getsockname(s, (struct sockaddr *)&a, &len));
  printf("len %d family %d port %d addr %s\n", len, a.sin_family, ntohs(a.sin_port), inet_ntoa(a.sin_addr));
  CHECK("getpeername", getpeername(s, (struct sockaddr *)&a, &len));
  printf("poll %#x\n", revents(s, POLLIN | POLLOUT | POLLRDHUP, 0));
  char c;
  CHECK("read", read(s, &c, 1));
  CHECK("write", write(s, "x", 1));
  printf("SIGPIPE count %d\n", sigpipes);
  CHECK("shutdown", shutdown(s, SHUT_WR));
  CHECK("accept", accept(s, NULL, NULL));
  a.sin_family = AF_INET6;
  CHECK("bind with the wrong family", bind(s, (struct sockaddr *)&a, sizeof a));
  CHECK("bind too short", bind(s, (struct sockaddr *)&a, 8));
  a = loopback(0);
  a.sin_addr.s_addr = htonl(0xc0000201); /* 192.0.2.1, TEST-NET-1: not ours */
  CHECK("bind a foreign address", bind(s, (struct sockaddr *)&a, sizeof a));
  struct sockaddr_in unspec = { .sin_family = AF_UNSPEC };
  CHECK("bind AF_UNSPEC + INADDR_ANY", bind(s, (struct sockaddr *)&unspec, sizeof unspec));
  len = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &len);
  printf("bound: family %d port nonzero %d\n", a.sin_family, a.sin_port != 0);
  CHECK("bind twice", bind(s, (struct sockaddr *)&unspec, sizeof unspec));
  close(s);
}

static void server_and_client(void) {
  printf("-- TCP server and forked client\n");
  struct sockaddr_in a;
  int l = listener(&a, 0);
  printf("listener port nonzero %d, addr %s\n", a.sin_port != 0, inet_ntoa(a.sin_addr));
  printf("SO_ACCEPTCONN %d, idle poll %#x\n", getint(l, SOL_SOCKET, SO_ACCEPTCONN), revents(l, POLLIN | POLLOUT, 0));
  char c;
  CHECK("read a listener", read(l, &c, 1));
  fcntl(l, F_SETFL, O_NONBLOCK);
  CHECK("nonblocking accept", accept(l, NULL, NULL));
  fcntl(l, F_SETFL, 0);
  int other = socket(AF_INET, SOCK_STREAM, 0);
  CHECK("bind the same port", bind(other, (struct sockaddr *)&a, sizeof a));
  int on = 1;
  setsockopt(other, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  CHECK("with SO_REUSEADDR", bind(other, (struct sockaddr *)&a, sizeof a));
  close(other);
  CHECK("connect a listener", connect(l, (struct sockaddr *)&a, sizeof a));

  pid_t p = fork();
  if (p == 0) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) _exit(1);
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    if (getpeername(s, (struct sockaddr *)&peer, &len) != 0 || peer.sin_port != a.sin_port) _exit(2);
    if (write(s, "hello from the child", 20) != 20) _exit(3);
    char buf[64] = { 0 };
    size_t got = 0;
    ssize_t n;
    while ((n = read(s, buf + got, sizeof buf - 1 - got)) > 0) got += n;
    if (n != 0 || strcmp(buf, "hello from the parent") != 0) _exit(4);
    if (write(s, "bye", 3) != 3) _exit(5);
    close(s);
    _exit(0);
  }
  printf("poll until a connection: %#x\n", revents(l, POLLIN, 5000));
  struct sockaddr_in peer, self;
  socklen_t plen = sizeof peer, slen = sizeof self;
  int s = accept4(l, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
  printf("accepted %d cloexec %d nonblock %d\n", s >= 0, fcntl(s, F_GETFD), (fcntl(s, F_GETFL) & O_NONBLOCK) != 0);
  printf("peer len %d family %d addr %s port nonzero %d\n", plen, peer.sin_family, inet_ntoa(peer.sin_addr), peer.sin_port != 0);
  getsockname(s, (struct sockaddr *)&self, &slen);
  printf("our side is the listener's port %d\n", self.sin_port == a.sin_port);
  struct sockaddr_in again;
  plen = sizeof again;
  getpeername(s, (struct sockaddr *)&again, &plen);
  printf("getpeername is the accepted address %d\n", again.sin_port == peer.sin_port && again.sin_addr.s_addr == peer.sin_addr.s_addr);
  printf("inherits SO_REUSEADDR %d\n", getint(s, SOL_SOCKET, SO_REUSEADDR));
  char buf[64] = { 0 };
  size_t got = 0;
  while (got < 20) {
    ssize_t n = read(s, buf + got, 20 - got);
    if (n <= 0) break;
    got += n;
  }
  printf("read %zu: %s\n", got, buf);
  CHECK("write", write(s, "hello from the parent", 21));
  CHECK("shutdown SHUT_WR", shutdown(s, SHUT_WR));
  CHECK("write after SHUT_WR", send(s, "x", 1, MSG_NOSIGNAL));
  printf("poll until the peer closes: %#x\n", revents(s, POLLRDHUP, 5000));
  memset(buf, 0, sizeof buf);
  got = 0;
  ssize_t n;
  while ((n = read(s, buf + got, sizeof buf - got)) > 0) got += n;
  printf("then read %zu: %s, then %zd\n", got, buf, n);
  printf("closed on both sides: poll %#x\n", revents(s, POLLIN | POLLOUT | POLLRDHUP, 0));
  CHECK("read again", read(s, buf, 1));
  printf("client exit %d\n", wait_child(p));
  close(s);
  CHECK("accept4 bad flags", accept4(l, NULL, NULL, 1));
  close(l);
}

static void nonblocking_connect(void) {
  printf("-- non-blocking connect\n");
  struct sockaddr_in a;
  int l = listener(&a, 0);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  CHECK("connect", connect(c, (struct sockaddr *)&a, sizeof a));
  printf("poll POLLOUT: %#x\n", revents(c, POLLOUT, 5000));
  printf("SO_ERROR %d\n", getint(c, SOL_SOCKET, SO_ERROR));
  CHECK("connect once more", connect(c, (struct sockaddr *)&a, sizeof a));
  CHECK("and again", connect(c, (struct sockaddr *)&a, sizeof a));
  int s = accept(l, NULL, NULL);
  CHECK("nonblocking read", read(c, &a, 1));
  CHECK("write", write(s, "z", 1));
  printf("poll POLLIN: %#x\n", revents(c, POLLIN, 5000));
  int v;
  ioctl(c, FIONREAD, &v);
  printf("FIONREAD %d\n", v);
  char z;
  CHECK("read", read(c, &z, 1));
  close(s);
  close(c);

  /* refused: a port nobody listens on (ours, closed again) */
  close(l);
  c = socket(AF_INET, SOCK_STREAM, 0);
  CHECK("blocking connect to a closed port", connect(c, (struct sockaddr *)&a, sizeof a));
  CHECK("read", read(c, &z, 1));
  CHECK("connect again", connect(c, (struct sockaddr *)&a, sizeof a));
  close(c);
  c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  CHECK("non-blocking connect to a closed port", connect(c, (struct sockaddr *)&a, sizeof a));
  printf("poll POLLOUT: %#x\n", revents(c, POLLOUT, 5000));
  printf("poll everything: %#x\n", revents(c, POLLIN | POLLOUT | POLLRDHUP, 0));
  printf("SO_ERROR %s\n", strerrorname_np(getint(c, SOL_SOCKET, SO_ERROR)));
  printf("SO_ERROR again %d\n", getint(c, SOL_SOCKET, SO_ERROR));
  CHECK("connect after the error was taken", connect(c, (struct sockaddr *)&a, sizeof a));
  close(c);
}

static void broken_pipe(void) {
  printf("-- EPIPE and SIGPIPE\n");
  struct sockaddr_in a;
  int l = listener(&a, 0);
  pid_t p = fork();
  if (p == 0) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) _exit(1);
    _exit(0);
  }
  int s = accept(l, NULL, NULL);
  printf("client exit %d\n", wait_child(p));
  char c;
  CHECK("read EOF", read(s, &c, 1));
  CHECK("first write after the peer closed", write(s, "x", 1));
  usleep(200000);
  CHECK("second write", write(s, "y", 1));
  printf("SIGPIPE count %d\n", sigpipes);
  CHECK("send MSG_NOSIGNAL", send(s, "z", 1, MSG_NOSIGNAL));
  printf("SIGPIPE count %d\n", sigpipes);
  close(s);

  /* shutdown(SHUT_RD) on a listener stops it: a blocked accept() wakes with EINVAL */
  p = fork();
  if (p == 0) {
    usleep(100000);
    _exit(0);
  }
  CHECK("shutdown SHUT_RD on the listener", shutdown(l, SHUT_RD));
  CHECK("accept", accept(l, NULL, NULL));
  printf("SO_ACCEPTCONN %d\n", getint(l, SOL_SOCKET, SO_ACCEPTCONN));
  wait_child(p);
  close(l);
}

static void bulk(void) {
  printf("-- 8 MiB over TCP, reader starting late\n");
  struct sockaddr_in a;
  int l = listener(&a, 0);
  pid_t p = fork();
  if (p == 0) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) _exit(1);
    static unsigned char chunk[100000];
    unsigned x = 7;
    long left = 8 << 20;
    while (left > 0) {
      int n = left < (long)sizeof chunk ? (int)left : (int)sizeof chunk;
      for (int i = 0; i < n; i++) chunk[i] = (unsigned char)((x = x * 1103515245 + 12345) >> 16);
      for (int off = 0; off < n;) {
        ssize_t w = write(s, chunk + off, n - off);
        if (w <= 0) _exit(2);
        off += w;
      }
      left -= n;
    }
    close(s);
    _exit(0);
  }
  int s = accept(l, NULL, NULL);
  usleep(300000);
  static unsigned char buf[65536];
  unsigned long sum = 0, total = 0;
  ssize_t n;
  while ((n = read(s, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n; i++) sum = sum * 31 + buf[i];
    total += n;
  }
  printf("received %lu bytes, checksum %lx, last read %zd, writer exit %d\n", total, sum, n, wait_child(p));
  close(s);
  close(l);
}

static void timeouts(void) {
  printf("-- SO_RCVTIMEO\n");
  struct sockaddr_in a;
  int l = listener(&a, 0);
  struct timeval tv = { 0, 150000 };
  setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK("accept with a timeout", accept(l, NULL, NULL));
  long ms = ms_since(&t0);
  printf("waited about the timeout %d\n", ms >= 140 && ms < 2000);
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char c;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK("recv with a timeout", recv(u, &c, 1, 0));
  ms = ms_since(&t0);
  printf("waited about the timeout %d\n", ms >= 140 && ms < 2000);
  close(u);
  close(l);
}

static void udp(void) {
  printf("-- UDP\n");
  int u1 = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = loopback(0), b, from;
  CHECK("bind", bind(u1, (struct sockaddr *)&a, sizeof a));
  socklen_t len = sizeof a;
  getsockname(u1, (struct sockaddr *)&a, &len);
  printf("SO_TYPE %d SO_PROTOCOL %d, poll %#x\n", getint(u1, SOL_SOCKET, SO_TYPE), getint(u1, SOL_SOCKET, SO_PROTOCOL),
         revents(u1, POLLIN | POLLOUT, 0));
  int u2 = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK("send without an address", send(u2, "x", 1, 0));
  CHECK("sendto", sendto(u2, "datagram one", 12, 0, (struct sockaddr *)&a, sizeof a));
  len = sizeof b;
  getsockname(u2, (struct sockaddr *)&b, &len);
  printf("sender autobound: port nonzero %d addr %s\n", b.sin_port != 0, inet_ntoa(b.sin_addr));
  char buf[70000];
  socklen_t flen = sizeof from;
  CHECK("recvfrom", recvfrom(u1, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen));
  printf("from len %d addr %s is the sender %d\n", flen, inet_ntoa(from.sin_addr), from.sin_port == b.sin_port);

  sendto(u2, "0123456789", 10, 0, (struct sockaddr *)&a, sizeof a);
  sendto(u2, "", 0, 0, (struct sockaddr *)&a, sizeof a);
  sendto(u2, "last", 4, 0, (struct sockaddr *)&a, sizeof a);
  printf("poll POLLIN %#x\n", revents(u1, POLLIN, 5000));
  usleep(100000);
  int v;
  ioctl(u1, FIONREAD, &v);
  printf("FIONREAD %d\n", v);
  CHECK("MSG_PEEK", recv(u1, buf, 4, MSG_PEEK));
  CHECK("MSG_TRUNC", recv(u1, buf, 4, MSG_TRUNC));
  CHECK("empty datagram", recv(u1, buf, sizeof buf, 0));
  struct iovec io = { buf, 2 };
  struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &io, .msg_iovlen = 1 };
  CHECK("recvmsg short", recvmsg(u1, &m, 0));
  printf("msg_flags MSG_TRUNC %d namelen %d\n", (m.msg_flags & MSG_TRUNC) != 0, m.msg_namelen);
  CHECK("nothing left", recv(u1, buf, sizeof buf, MSG_DONTWAIT));

  CHECK("65507 bytes", sendto(u2, buf, 65507, 0, (struct sockaddr *)&a, sizeof a));
  CHECK("65508 bytes", sendto(u2, buf, 65508, 0, (struct sockaddr *)&a, sizeof a));
  CHECK("recv the big one", recv(u1, buf, sizeof buf, 0));

  CHECK("connect", connect(u2, (struct sockaddr *)&a, sizeof a));
  len = sizeof b;
  getsockname(u2, (struct sockaddr *)&b, &len);
  printf("after connect: local addr %s\n", inet_ntoa(b.sin_addr));
  len = sizeof from;
  CHECK("getpeername", getpeername(u2, (struct sockaddr *)&from, &len));
  printf("peer is u1 %d\n", from.sin_port == a.sin_port);
  CHECK("send", send(u2, "connected", 9, 0));
  CHECK("write", write(u2, "by write", 8));
  CHECK("recv", recv(u1, buf, sizeof buf, 0));
  CHECK("read", read(u1, buf, sizeof buf));
  CHECK("sendto the peer's address", sendto(u2, "to", 2, 0, (struct sockaddr *)&a, sizeof a));
  CHECK("recv", recv(u1, buf, sizeof buf, 0));
  /* u1 answers; the connected u2 takes datagrams from its peer only */
  int u3 = socket(AF_INET, SOCK_DGRAM, 0);
  sendto(u3, "stranger", 8, 0, (struct sockaddr *)&b, sizeof b);
  sendto(u1, "reply", 5, 0, (struct sockaddr *)&b, sizeof b);
  memset(buf, 0, 16);
  CHECK("recv on the connected socket", recv(u2, buf, sizeof buf, 0));
  printf("got %s\n", buf);
  struct sockaddr_in unspec = { .sin_family = AF_UNSPEC };
  CHECK("disconnect", connect(u2, (struct sockaddr *)&unspec, sizeof unspec));
  CHECK("getpeername", getpeername(u2, (struct sockaddr *)&from, &len));

  int u4 = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK("bind u1's port", bind(u4, (struct sockaddr *)&a, sizeof a));
  close(u4);
  int on = 1;
  int r1 = socket(AF_INET, SOCK_DGRAM, 0), r2 = socket(AF_INET, SOCK_DGRAM, 0);
  setsockopt(r1, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  setsockopt(r2, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  struct sockaddr_in c = loopback(0);
  bind(r1, (struct sockaddr *)&c, sizeof c);
  len = sizeof c;
  getsockname(r1, (struct sockaddr *)&c, &len);
  CHECK("both SO_REUSEADDR: same port", bind(r2, (struct sockaddr *)&c, sizeof c));
  close(r1);
  close(r2);

  CHECK("shutdown unconnected", shutdown(u1, SHUT_RD));
  CHECK("recv after SHUT_RD", recv(u1, buf, sizeof buf, 0));
  printf("poll %#x\n", revents(u1, POLLIN | POLLOUT | POLLRDHUP, 0));
  CHECK("SO_BROADCAST", setsockopt(u3, SOL_SOCKET, SO_BROADCAST, &on, sizeof on));
  printf("SO_BROADCAST %d\n", getint(u3, SOL_SOCKET, SO_BROADCAST));
  close(u1);
  close(u2);
  close(u3);
}

static void ipv6(void) {
  printf("-- IPv6\n");
  int l = socket(AF_INET6, SOCK_STREAM, 0);
  printf("IPV6_V6ONLY %d\n", getint(l, IPPROTO_IPV6, IPV6_V6ONLY));
  struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = in6addr_loopback };
  CHECK("bind ::1", bind(l, (struct sockaddr *)&a, sizeof a));
  socklen_t len = sizeof a;
  getsockname(l, (struct sockaddr *)&a, &len);
  char text[64];
  printf("len %d family %d addr %s port nonzero %d\n", len, a.sin6_family, inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof text), a.sin6_port != 0);
  listen(l, 4);
  pid_t p = fork();
  if (p == 0) {
    int s = socket(AF_INET6, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) _exit(1);
    if (write(s, "six", 3) != 3) _exit(2);
    _exit(0);
  }
  struct sockaddr_in6 peer;
  len = sizeof peer;
  int s = accept(l, (struct sockaddr *)&peer, &len);
  char buf[8] = { 0 };
  read(s, buf, sizeof buf);
  printf("accepted from %s len %d: %s, client exit %d\n", inet_ntop(AF_INET6, &peer.sin6_addr, text, sizeof text), len, buf, wait_child(p));
  close(s);
  close(l);

  /* a dual-stack listener takes IPv4 clients, seen as v4-mapped addresses */
  l = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 any = { .sin6_family = AF_INET6, .sin6_addr = in6addr_any };
  bind(l, (struct sockaddr *)&any, sizeof any);
  listen(l, 4);
  len = sizeof any;
  getsockname(l, (struct sockaddr *)&any, &len);
  struct sockaddr_in v4 = loopback(ntohs(any.sin6_port));
  int c = socket(AF_INET, SOCK_STREAM, 0);
  CHECK("IPv4 client to a dual-stack listener", connect(c, (struct sockaddr *)&v4, sizeof v4));
  len = sizeof peer;
  s = accept(l, (struct sockaddr *)&peer, &len);
  printf("peer %s v4-mapped %d\n", inet_ntop(AF_INET6, &peer.sin6_addr, text, sizeof text), IN6_IS_ADDR_V4MAPPED(&peer.sin6_addr));
  close(s);
  close(c);
  close(l);

  int v6only = socket(AF_INET6, SOCK_STREAM, 0);
  int on = 1;
  CHECK("IPV6_V6ONLY", setsockopt(v6only, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on));
  bind(v6only, (struct sockaddr *)&any, sizeof any);
  listen(v6only, 1);
  len = sizeof any;
  getsockname(v6only, (struct sockaddr *)&any, &len);
  v4 = loopback(ntohs(any.sin6_port));
  c = socket(AF_INET, SOCK_STREAM, 0);
  CHECK("IPv4 client to a v6-only listener", connect(c, (struct sockaddr *)&v4, sizeof v4));
  close(c);
  close(v6only);

  int u1 = socket(AF_INET6, SOCK_DGRAM, 0), u2 = socket(AF_INET6, SOCK_DGRAM, 0);
  struct sockaddr_in6 ua = { .sin6_family = AF_INET6, .sin6_addr = in6addr_loopback };
  bind(u1, (struct sockaddr *)&ua, sizeof ua);
  len = sizeof ua;
  getsockname(u1, (struct sockaddr *)&ua, &len);
  CHECK("UDP over ::1", sendto(u2, "v6 datagram", 11, 0, (struct sockaddr *)&ua, sizeof ua));
  struct sockaddr_in6 from;
  len = sizeof from;
  memset(buf, 0, sizeof buf);
  char big[32] = { 0 };
  CHECK("recvfrom", recvfrom(u1, big, sizeof big, 0, (struct sockaddr *)&from, &len));
  printf("%s from %s len %d\n", big, inet_ntop(AF_INET6, &from.sin6_addr, text, sizeof text), len);
  close(u1);
  close(u2);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  signal(SIGPIPE, on_sigpipe);
  options();
  unconnected();
  server_and_client();
  nonblocking_connect();
  broken_pipe();
  bulk();
  timeouts();
  udp();
  ipv6();
  return 0;
}
