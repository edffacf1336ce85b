/*
 * AF_UNIX sockets: socketpair (stream, datagram, seqpacket), named and
 * abstract sockets between forked processes, SCM_RIGHTS, SO_PEERCRED, shutdown / EOF / EPIPE / SIGPIPE, poll
 * masks, buffer limits, and the errno of each misuse.
 * argv[1]: a scratch directory for socket files.
 * Only the parent prints; children report through exit statuses.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static volatile int sigpipes;
static void on_sigpipe(int sig) { (void)sig; sigpipes++; }

static const char *dir;

static socklen_t path_addr(struct sockaddr_un *a, const char *name) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  snprintf(a->sun_path, sizeof a->sun_path, "%s/%s", dir, name);
  return offsetof(struct sockaddr_un, sun_path) + strlen(a->sun_path) + 1;
}

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  /* unique per run: the host's abstract name space is shared with whatever else runs */
  int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "tv-sockets-%d-%s", getpid(), name);
  return offsetof(struct sockaddr_un, sun_path) + 1 + n;
}

static void show_poll(const char *label, int fd) {
  struct pollfd p = { fd, POLLIN | POLLOUT | POLLRDHUP, 0 };
  int n = poll(&p, 1, 0);
  printf("%s: poll %d revents %#x\n", label, n, p.revents);
}

static int wait_child(pid_t p) {
  int st;
  if (waitpid(p, &st, 0) != p) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void errors(void) {
  printf("-- socket() errors\n");
  CHECK("family 12345", socket(12345, SOCK_STREAM, 0));
  CHECK("unix protocol 2", socket(AF_UNIX, SOCK_STREAM, 2));
  CHECK("unix protocol 1 (PF_UNIX)", socket(AF_UNIX, SOCK_STREAM, 1) >= 0);
  CHECK("unix SOCK_RDM", socket(AF_UNIX, SOCK_RDM, 0));
  CHECK("inet stream/udp", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
  CHECK("inet dgram/tcp", socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP));
  int sv[2];
  CHECK("socketpair inet", socketpair(AF_INET, SOCK_STREAM, 0, sv));
  CHECK("socketpair family 12345", socketpair(12345, SOCK_STREAM, 0, sv));
  int p[2];
  pipe(p);
  struct sockaddr_un a;
  socklen_t len = path_addr(&a, "never");
  CHECK("bind on a pipe", bind(p[0], (struct sockaddr *)&a, len));
  CHECK("connect on a bad fd", connect(999, (struct sockaddr *)&a, len));
  CHECK("listen on a pipe", listen(p[0], 1));
  int v;
  socklen_t vlen = sizeof v;
  CHECK("getsockopt on a pipe", getsockopt(p[0], SOL_SOCKET, SO_TYPE, &v, &vlen));
  CHECK("shutdown on a pipe", shutdown(p[0], SHUT_RD));
  close(p[0]);
  close(p[1]);
}

static void stream_pair(void) {
  printf("-- socketpair(SOCK_STREAM)\n");
  int sv[2];
  CHECK("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  struct stat st;
  fstat(sv[0], &st);
  printf("S_ISSOCK %d\n", S_ISSOCK(st.st_mode));
  int v = -1;
  socklen_t len = sizeof v;
  getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &len);
  printf("SO_TYPE %d len %d\n", v, len);
  getsockopt(sv[0], SOL_SOCKET, SO_DOMAIN, &v, &len);
  printf("SO_DOMAIN %d\n", v);
  getsockopt(sv[0], SOL_SOCKET, SO_PROTOCOL, &v, &len);
  printf("SO_PROTOCOL %d\n", v);
  getsockopt(sv[0], SOL_SOCKET, SO_ACCEPTCONN, &v, &len);
  printf("SO_ACCEPTCONN %d\n", v);
  getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, &len);
  printf("SO_SNDBUF default %d\n", v);
  int one = 1;
  CHECK("a TCP option", setsockopt(sv[0], IPPROTO_TCP, 1, &one, sizeof one));
  CHECK("an IP option", getsockopt(sv[0], IPPROTO_IP, 2, &v, &len));
  CHECK("SO_KEEPALIVE", setsockopt(sv[0], SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one));
  struct ucred cred;
  len = sizeof cred;
  CHECK("SO_PEERCRED", getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &cred, &len));
  printf("peer pid is us %d, uid %d, gid %d, len %d\n", cred.pid == getpid(), cred.uid == getuid(), cred.gid == getgid(), len);
  struct sockaddr_un a;
  len = sizeof a;
  CHECK("getsockname", getsockname(sv[0], (struct sockaddr *)&a, &len));
  printf("name len %d family %d\n", len, a.sun_family);
  len = sizeof a;
  CHECK("getpeername", getpeername(sv[0], (struct sockaddr *)&a, &len));
  printf("peer len %d\n", len);

  show_poll("fresh pair", sv[0]);
  CHECK("write", write(sv[0], "hello world", 11));
  show_poll("peer with data", sv[1]);
  CHECK("FIONREAD", (ioctl(sv[1], FIONREAD, &v), v));
  char buf[64] = { 0 };
  CHECK("recv MSG_PEEK", recv(sv[1], buf, 5, MSG_PEEK));
  printf("peeked %.5s\n", buf);
  CHECK("read", read(sv[1], buf, 64));
  printf("read %.11s\n", buf);
  CHECK("recv MSG_DONTWAIT empty", recv(sv[1], buf, 64, MSG_DONTWAIT));

  /* writes glue together on a stream */
  write(sv[0], "ab", 2);
  write(sv[0], "cd", 2);
  write(sv[0], "ef", 2);
  CHECK("read glued", read(sv[1], buf, 64));
  printf("glued %.6s\n", buf);

  /* readv / writev and sendmsg / recvmsg with several iovecs */
  struct iovec out[3] = { { "one ", 4 }, { "two ", 4 }, { "three", 5 } };
  struct msghdr m = { .msg_iov = out, .msg_iovlen = 3 };
  CHECK("sendmsg 3 iovecs", sendmsg(sv[0], &m, 0));
  char x1[3], x2[20] = { 0 };
  struct iovec in[2] = { { x1, 3 }, { x2, 20 } };
  struct msghdr r = { .msg_iov = in, .msg_iovlen = 2 };
  CHECK("recvmsg 2 iovecs", recvmsg(sv[1], &r, 0));
  printf("split %.3s|%s flags %#x\n", x1, x2, r.msg_flags);

  /* MSG_WAITALL collects across writes from another process */
  pid_t p = fork();
  if (p == 0) {
    for (int i = 0; i < 4; i++) {
      usleep(20000);
      write(sv[0], "0123456789", 10);
    }
    _exit(0);
  }
  memset(buf, 0, sizeof buf);
  CHECK("recv MSG_WAITALL 40", recv(sv[1], buf, 40, MSG_WAITALL));
  printf("waitall %s\n", buf);
  printf("writer exit %d\n", wait_child(p));

  /* shutdown(SHUT_WR): the peer reads what is left, then EOF; our writes fail */
  write(sv[0], "last", 4);
  CHECK("shutdown SHUT_WR", shutdown(sv[0], SHUT_WR));
  show_poll("after own SHUT_WR", sv[0]);
  show_poll("peer after SHUT_WR", sv[1]);
  CHECK("read rest", read(sv[1], buf, 64));
  CHECK("read EOF", read(sv[1], buf, 64));
  CHECK("read EOF again", read(sv[1], buf, 64));
  CHECK("write after SHUT_WR", write(sv[0], "x", 1));
  printf("SIGPIPE count %d\n", sigpipes);
  CHECK("send MSG_NOSIGNAL after SHUT_WR", send(sv[0], "x", 1, MSG_NOSIGNAL));
  printf("SIGPIPE count %d\n", sigpipes);
  CHECK("peer still writes", write(sv[1], "back", 4));
  CHECK("we still read", read(sv[0], buf, 64));
  CHECK("shutdown bad how", shutdown(sv[0], 7));
  CHECK("shutdown SHUT_RD", shutdown(sv[0], SHUT_RD));
  show_poll("after both shutdowns", sv[0]);
  CHECK("peer write after our SHUT_RD", write(sv[1], "x", 1));
  printf("SIGPIPE count %d\n", sigpipes);
  close(sv[0]);
  close(sv[1]);

  /* close with data unread at the closing end: the survivor gets ECONNRESET once */
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  write(sv[0], "unread", 6);
  write(sv[1], "for 0", 5);
  close(sv[1]);
  show_poll("peer closed with our data unread", sv[0]);
  CHECK("read what the peer sent", read(sv[0], buf, 64));
  CHECK("then ECONNRESET", read(sv[0], buf, 64));
  CHECK("then EOF", read(sv[0], buf, 64));
  CHECK("write to closed", write(sv[0], "x", 1));
  printf("SIGPIPE count %d\n", sigpipes);
  close(sv[0]);

  /* a clean close: EOF, POLLHUP */
  socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv);
  printf("SOCK_NONBLOCK %d SOCK_CLOEXEC %d\n", (fcntl(sv[0], F_GETFL) & O_NONBLOCK) != 0, fcntl(sv[0], F_GETFD));
  CHECK("nonblocking read", read(sv[0], buf, 64));
  int zero = 0;
  ioctl(sv[0], FIONBIO, &zero);
  printf("FIONBIO 0: nonblock %d\n", (fcntl(sv[0], F_GETFL) & O_NONBLOCK) != 0);
  close(sv[1]);
  show_poll("peer closed", sv[0]);
  CHECK("read EOF", read(sv[0], buf, 64));
  close(sv[0]);

  /* fill a non-blocking pair: Linux's send-buffer accounting */
  socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
  static char big[65536];
  long total = 0, n;
  int writes = 0;
  while ((n = write(sv[0], big, sizeof big)) > 0) {
    total += n;
    writes++;
  }
  printf("stream filled: %d writes %ld bytes, then %s\n", writes, total, strerrorname_np(errno));
  show_poll("full writer", sv[0]);
  for (long got = 0; got < total;) got += read(sv[1], big, sizeof big);
  show_poll("drained writer", sv[0]);
  close(sv[0]);
  close(sv[1]);
}

static void dgram_pair(void) {
  printf("-- socketpair(SOCK_DGRAM) and SOCK_SEQPACKET\n");
  int sv[2];
  socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
  send(sv[0], "first", 5, 0);
  send(sv[0], "second message", 14, 0);
  send(sv[0], "", 0, 0);
  int v;
  ioctl(sv[1], FIONREAD, &v);
  printf("FIONREAD first datagram %d\n", v);
  char buf[64] = { 0 };
  CHECK("recv 3 of 5", recv(sv[1], buf, 3, 0));
  CHECK("recv MSG_TRUNC", recv(sv[1], buf, 3, MSG_TRUNC));
  struct iovec io = { buf, sizeof buf };
  struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1 };
  CHECK("recvmsg empty datagram", recvmsg(sv[1], &m, 0));
  printf("flags %#x\n", m.msg_flags);
  send(sv[0], "truncated", 9, 0);
  io.iov_len = 4;
  CHECK("recvmsg short", recvmsg(sv[1], &m, 0));
  printf("flags MSG_TRUNC %d\n", (m.msg_flags & MSG_TRUNC) != 0);
  CHECK("recv nothing", recv(sv[1], buf, 64, MSG_DONTWAIT));

  int one = 0;
  while (send(sv[0], "x", 1, MSG_DONTWAIT) == 1) one++;
  printf("1-byte datagrams before %s: %d\n", strerrorname_np(errno), one);
  show_poll("full dgram writer", sv[0]);
  show_poll("full dgram reader", sv[1]);
  while (recv(sv[1], buf, 64, MSG_DONTWAIT) > 0) {}
  int kb = 0;
  static char big[1000];
  while (send(sv[0], big, sizeof big, MSG_DONTWAIT) > 0) kb++;
  printf("1000-byte datagrams: %d\n", kb);
  while (recv(sv[1], buf, 64, MSG_DONTWAIT) > 0) {}
  static char huge[300000];
  CHECK("datagram larger than SO_SNDBUF", send(sv[0], huge, sizeof huge, 0));

  CHECK("shutdown SHUT_WR", shutdown(sv[0], SHUT_WR));
  CHECK("send after SHUT_WR", send(sv[0], "x", 1, 0));
  printf("SIGPIPE count %d\n", sigpipes);
  close(sv[0]);
  CHECK("send to closed peer", send(sv[1], "x", 1, 0));
  CHECK("send again", send(sv[1], "x", 1, 0));
  close(sv[1]);

  socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
  send(sv[0], "packet one", 10, 0);
  send(sv[0], "two", 3, 0);
  CHECK("seqpacket recv 6 of 10", recv(sv[1], buf, 6, 0));
  CHECK("seqpacket next", recv(sv[1], buf, 64, 0));
  printf("got %.3s\n", buf);
  close(sv[0]);
  show_poll("seqpacket peer closed", sv[1]);
  CHECK("seqpacket EOF", recv(sv[1], buf, 64, 0));
  CHECK("seqpacket send to closed", send(sv[1], "x", 1, 0));
  printf("SIGPIPE count %d\n", sigpipes);
  close(sv[1]);
}

static void named(void) {
  printf("-- named stream sockets\n");
  struct sockaddr_un a, b;
  socklen_t alen = path_addr(&a, "server.sock");
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK("listen before bind", listen(s, 5));
  CHECK("bind", bind(s, (struct sockaddr *)&a, alen));
  CHECK("bind again", bind(s, (struct sockaddr *)&a, alen));
  struct stat st;
  CHECK("the file exists", stat(a.sun_path, &st));
  printf("mode bits %o\n", st.st_mode & 0777);
  int s2 = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK("second bind to the path", bind(s2, (struct sockaddr *)&a, alen));
  close(s2);
  socklen_t len = sizeof b;
  getsockname(s, (struct sockaddr *)&b, &len);
  printf("getsockname len %d is the path %d\n", len, strcmp(b.sun_path, a.sun_path) == 0);
  CHECK("accept before listen", accept(s, NULL, NULL));
  CHECK("connect before listen", connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, alen));
  CHECK("listen", listen(s, 5));
  show_poll("idle listener", s);
  int v;
  len = sizeof v;
  getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &v, &len);
  printf("SO_ACCEPTCONN %d\n", v);
  fcntl(s, F_SETFL, O_NONBLOCK);
  CHECK("nonblocking accept", accept(s, NULL, NULL));
  fcntl(s, F_SETFL, 0);

  pid_t p = fork();
  if (p == 0) {
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&a, alen) != 0) _exit(1);
    struct ucred cred;
    socklen_t cl = sizeof cred;
    getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &cl);
    if (cred.pid != getppid()) _exit(2);
    if (write(c, "request", 7) != 7) _exit(3);
    char r[16] = { 0 };
    if (read(c, r, sizeof r) != 5 || strcmp(r, "reply") != 0) _exit(4);
    if (read(c, r, sizeof r) != 0) _exit(5);
    _exit(0);
  }
  struct pollfd pl = { s, POLLIN, 0 };
  printf("poll until the client connects: %d revents %#x\n", poll(&pl, 1, 5000), pl.revents);
  struct sockaddr_un peer;
  len = sizeof peer;
  int c = accept(s, (struct sockaddr *)&peer, &len);
  printf("accepted %d, peer address len %d\n", c >= 0, len);
  len = sizeof b;
  getsockname(c, (struct sockaddr *)&b, &len);
  printf("accepted socket's name is the path %d\n", strcmp(b.sun_path, a.sun_path) == 0);
  struct ucred cred;
  len = sizeof cred;
  getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len);
  printf("SO_PEERCRED is the child %d\n", cred.pid == p);
  char buf[64] = { 0 };
  CHECK("read request", read(c, buf, sizeof buf));
  printf("request %s\n", buf);
  CHECK("write reply", write(c, "reply", 5));
  close(c);
  printf("client exit %d\n", wait_child(p));

  /* the backlog: one more than listen()'s number are queued */
  int l2 = socket(AF_UNIX, SOCK_STREAM, 0);
  socklen_t l2len = path_addr(&b, "backlog.sock");
  bind(l2, (struct sockaddr *)&b, l2len);
  listen(l2, 1);
  for (int i = 0; i < 3; i++) {
    int k = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    CHECK("connect to a backlog of 1", connect(k, (struct sockaddr *)&b, l2len));
    if (i == 0) {
      CHECK("connect again", connect(k, (struct sockaddr *)&b, l2len));
      CHECK("write before accept", write(k, "early", 5));
    }
  }
  int e = accept(l2, NULL, NULL);
  CHECK("read early data", read(e, buf, sizeof buf));
  close(e);
  close(l2);

  close(s);
  CHECK("connect after the server closed", connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, alen));
  CHECK("unlink", unlink(a.sun_path));
  CHECK("connect after unlink", connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, alen));
  alen = path_addr(&a, "plain-file");
  close(open(a.sun_path, O_CREAT | O_WRONLY, 0644));
  CHECK("connect to a regular file", connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, alen));
  alen = path_addr(&a, "no-such-dir/x.sock");
  CHECK("bind in a missing directory", bind(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, alen));
  CHECK("address too short", connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, 1));
  CHECK("address too long", connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, 200));
  a.sun_family = AF_INET;
  CHECK("wrong family", connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, alen));

  /* relative paths resolve against the process's cwd */
  char old[4096];
  getcwd(old, sizeof old);
  chdir(dir);
  struct sockaddr_un rel = { AF_UNIX, "relative.sock" };
  int r1 = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK("bind relative", bind(r1, (struct sockaddr *)&rel, sizeof rel));
  listen(r1, 1);
  chdir(old);
  alen = path_addr(&a, "relative.sock");
  int r2 = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK("connect by absolute path", connect(r2, (struct sockaddr *)&a, alen));
  close(r1);
  close(r2);

  /* a stream socket cannot connect to a datagram socket */
  int d = socket(AF_UNIX, SOCK_DGRAM, 0);
  alen = path_addr(&a, "dgram.sock");
  bind(d, (struct sockaddr *)&a, alen);
  CHECK("stream to dgram", connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, alen));
  CHECK("seqpacket to dgram", connect(socket(AF_UNIX, SOCK_SEQPACKET, 0), (struct sockaddr *)&a, alen));
  CHECK("listen on dgram", listen(d, 1));
  CHECK("accept on dgram", accept(d, NULL, NULL));
  close(d);
}

static void abstract(void) {
  printf("-- abstract names, autobind\n");
  struct sockaddr_un a, b;
  socklen_t alen = abstract_addr(&a, "srv");
  int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  CHECK("bind abstract", bind(s, (struct sockaddr *)&a, alen));
  socklen_t len = sizeof b;
  getsockname(s, (struct sockaddr *)&b, &len);
  printf("name len matches %d, same bytes %d\n", len == alen, memcmp(&a, &b, alen) == 0);
  int s2 = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  CHECK("bind taken abstract", bind(s2, (struct sockaddr *)&a, alen));
  listen(s, 4);
  pid_t p = fork();
  if (p == 0) {
    int c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    if (connect(c, (struct sockaddr *)&a, alen) != 0) _exit(1);
    send(c, "abc", 3, 0);
    send(c, "defgh", 5, 0);
    _exit(0);
  }
  int c = accept(s, NULL, NULL);
  char buf[16];
  CHECK("packet", recv(c, buf, sizeof buf, 0));
  CHECK("packet", recv(c, buf, sizeof buf, 0));
  CHECK("EOF", recv(c, buf, sizeof buf, 0));
  printf("client exit %d\n", wait_child(p));
  close(c);
  close(s);
  CHECK("abstract name free after close", bind(s2, (struct sockaddr *)&a, alen));
  close(s2);
  alen = abstract_addr(&a, "nobody");
  CHECK("connect to unbound abstract", connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, alen));

  int au = socket(AF_UNIX, SOCK_DGRAM, 0);
  sa_family_t fam = AF_UNIX;
  CHECK("autobind", bind(au, (struct sockaddr *)&fam, sizeof fam));
  len = sizeof b;
  getsockname(au, (struct sockaddr *)&b, &len);
  printf("autobind name len %d, abstract %d\n", len, b.sun_path[0] == 0);
  close(au);
}

static void named_dgram(void) {
  printf("-- named datagram sockets\n");
  struct sockaddr_un a, b, from;
  socklen_t alen = path_addr(&a, "rx.dgram");
  socklen_t blen = path_addr(&b, "tx.dgram");
  int rx = socket(AF_UNIX, SOCK_DGRAM, 0);
  bind(rx, (struct sockaddr *)&a, alen);
  int anon = socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK("sendto from an unnamed socket", sendto(anon, "anon", 4, 0, (struct sockaddr *)&a, alen));
  int tx = socket(AF_UNIX, SOCK_DGRAM, 0);
  bind(tx, (struct sockaddr *)&b, blen);
  CHECK("sendto from a named socket", sendto(tx, "named", 5, 0, (struct sockaddr *)&a, alen));
  char buf[64];
  socklen_t flen = sizeof from;
  CHECK("recvfrom", recvfrom(rx, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen));
  printf("from len %d\n", flen);
  flen = sizeof from;
  CHECK("recvfrom", recvfrom(rx, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen));
  printf("from len matches %d, is tx %d\n", flen == blen, strcmp(from.sun_path, b.sun_path) == 0);
  flen = 4;
  sendto(tx, "y", 1, 0, (struct sockaddr *)&a, alen);
  recvfrom(rx, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
  printf("short address buffer: len %d\n", flen);
  CHECK("send unconnected", send(anon, "x", 1, 0));
  CHECK("getpeername unconnected", getpeername(anon, (struct sockaddr *)&from, &flen));

  /* a receiver not connected back takes 11 datagrams from one sender */
  int q = 0;
  while (sendto(anon, "q", 1, MSG_DONTWAIT, (struct sockaddr *)&a, alen) == 1) q++;
  printf("queued before %s: %d\n", strerrorname_np(errno), q);
  while (recv(rx, buf, sizeof buf, MSG_DONTWAIT) > 0) {}

  CHECK("connect rx to tx", connect(rx, (struct sockaddr *)&b, blen));
  CHECK("others may no longer send to rx", sendto(anon, "z", 1, 0, (struct sockaddr *)&a, alen));
  CHECK("tx may", sendto(tx, "z", 1, 0, (struct sockaddr *)&a, alen));
  CHECK("connect anon to rx", connect(anon, (struct sockaddr *)&a, alen));
  CHECK("connect tx to rx", connect(tx, (struct sockaddr *)&a, alen));
  CHECK("send on connected", send(tx, "w", 1, 0));
  struct sockaddr_un unspec = { AF_UNSPEC };
  CHECK("disconnect rx", connect(rx, (struct sockaddr *)&unspec, sizeof(sa_family_t)));
  CHECK("anon may send again", sendto(anon, "v", 1, 0, (struct sockaddr *)&a, alen));
  int n = 0;
  while (recv(rx, buf, sizeof buf, MSG_DONTWAIT) > 0) n++;
  printf("rx had %d\n", n);
  int err;
  socklen_t elen = sizeof err;
  getsockopt(tx, SOL_SOCKET, SO_ERROR, &err, &elen);
  printf("tx SO_ERROR %s\n", strerrorname_np(err));
  getsockopt(tx, SOL_SOCKET, SO_ERROR, &err, &elen);
  printf("tx SO_ERROR again %d\n", err);
  unlink(a.sun_path);
  CHECK("sendto unlinked path", sendto(anon, "u", 1, 0, (struct sockaddr *)&a, alen));
  close(rx);
  close(tx);
  close(anon);
}

static void pass_fds(void) {
  printf("-- SCM_RIGHTS and SCM_CREDENTIALS\n");
  int sv[2], p[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  pipe(p);
  char data = 'F';
  struct iovec io = { &data, 1 };
  union {
    char buf[CMSG_SPACE(3 * sizeof(int))];
    struct cmsghdr align;
  } u;
  memset(&u, 0, sizeof u);
  struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = CMSG_SPACE(sizeof(int)) };
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &p[1], sizeof(int));
  CHECK("sendmsg with the pipe's write end", sendmsg(sv[0], &m, 0));
  close(p[1]);

  /* a child receives it and writes into the pipe */
  pid_t child = fork();
  if (child == 0) {
    char d;
    union {
      char buf[CMSG_SPACE(sizeof(int))];
      struct cmsghdr align;
    } v;
    struct iovec i2 = { &d, 1 };
    struct msghdr r = { .msg_iov = &i2, .msg_iovlen = 1, .msg_control = v.buf, .msg_controllen = sizeof v.buf };
    if (recvmsg(sv[1], &r, 0) != 1 || d != 'F') _exit(1);
    struct cmsghdr *h = CMSG_FIRSTHDR(&r);
    if (h == NULL || h->cmsg_type != SCM_RIGHTS || h->cmsg_len != CMSG_LEN(sizeof(int))) _exit(2);
    int fd;
    memcpy(&fd, CMSG_DATA(h), sizeof fd);
    if (write(fd, "through a passed fd", 19) != 19) _exit(3);
    _exit(0);
  }
  printf("child exit %d\n", wait_child(child));
  char buf[64] = { 0 };
  CHECK("read the pipe", read(p[0], buf, sizeof buf));
  printf("pipe says: %s\n", buf);
  CHECK("and now EOF (every write end closed)", read(p[0], buf, sizeof buf));
  close(p[0]);

  /* two fds in one message, MSG_CMSG_CLOEXEC, the returned control length */
  int a[2], b[2];
  pipe(a);
  pipe(b);
  int two[2] = { a[1], b[1] };
  m.msg_controllen = CMSG_SPACE(2 * sizeof(int));
  c = CMSG_FIRSTHDR(&m);
  c->cmsg_len = CMSG_LEN(2 * sizeof(int));
  memcpy(CMSG_DATA(c), two, sizeof two);
  CHECK("sendmsg 2 fds", sendmsg(sv[0], &m, 0));
  memset(&u, 0, sizeof u);
  struct msghdr r = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  CHECK("recvmsg MSG_CMSG_CLOEXEC", recvmsg(sv[1], &r, MSG_CMSG_CLOEXEC));
  c = CMSG_FIRSTHDR(&r);
  printf("controllen %zu cmsg_len %zu level %d type %d flags %#x\n", r.msg_controllen, c->cmsg_len, c->cmsg_level, c->cmsg_type, r.msg_flags);
  int got[2];
  memcpy(got, CMSG_DATA(c), sizeof got);
  printf("cloexec %d %d, distinct from the originals %d\n", fcntl(got[0], F_GETFD), fcntl(got[1], F_GETFD), got[0] != a[1] && got[1] != b[1]);
  struct stat s1, s2;
  fstat(got[0], &s1);
  fstat(a[1], &s2);
  printf("same pipe %d\n", s1.st_ino == s2.st_ino);
  close(got[0]);
  close(got[1]);

  /* no room for the fds: MSG_CTRUNC, and they are closed */
  c = CMSG_FIRSTHDR(&m);
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &a[1], sizeof(int));
  m.msg_controllen = CMSG_SPACE(sizeof(int));
  sendmsg(sv[0], &m, 0);
  close(a[1]);
  r.msg_controllen = 8;
  CHECK("recvmsg with an 8-byte control buffer", recvmsg(sv[1], &r, 0));
  printf("flags MSG_CTRUNC %d controllen %zu\n", (r.msg_flags & MSG_CTRUNC) != 0, r.msg_controllen);
  CHECK("the passed end went away: EOF", read(a[0], buf, sizeof buf));
  memcpy(CMSG_DATA(c), &b[1], sizeof(int));
  CHECK("sendmsg", sendmsg(sv[0], &m, 0));
  close(b[1]);
  CHECK("read() drops passed fds", read(sv[1], buf, 1));
  CHECK("so that pipe is at EOF too", read(b[0], buf, sizeof buf));
  close(a[0]);
  close(b[0]);

  /* errors */
  int bad = 999;
  memcpy(CMSG_DATA(c), &bad, sizeof bad);
  CHECK("SCM_RIGHTS with a bad fd", sendmsg(sv[0], &m, 0));
  c->cmsg_len = CMSG_LEN(sizeof(int));
  c->cmsg_type = 77;
  CHECK("unknown SOL_SOCKET type", sendmsg(sv[0], &m, 0));
  close(sv[0]);
  close(sv[1]);
}

static void bulk(void) {
  printf("-- 4 MiB through a stream pair\n");
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  pid_t p = fork();
  if (p == 0) {
    close(sv[1]);
    static unsigned char chunk[100000];
    unsigned x = 1;
    long left = 4 << 20;
    while (left > 0) {
      int n = left < (long)sizeof chunk ? (int)left : (int)sizeof chunk;
      for (int i = 0; i < n; i++) chunk[i] = (unsigned char)((x = x * 1103515245 + 12345) >> 16);
      for (int off = 0; off < n;) {
        ssize_t w = write(sv[0], chunk + off, n - off);
        if (w <= 0) _exit(1);
        off += w;
      }
      left -= n;
    }
    _exit(0);
  }
  close(sv[0]);
  static unsigned char buf[65536];
  unsigned long sum = 0, total = 0;
  ssize_t n;
  while ((n = read(sv[1], buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n; i++) sum = sum * 31 + buf[i];
    total += n;
  }
  printf("received %lu bytes, checksum %lx, writer exit %d\n", total, sum, wait_child(p));
  close(sv[1]);
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  dir = argv[1];
  setvbuf(stdout, NULL, _IONBF, 0);
  signal(SIGPIPE, on_sigpipe);
  errors();
  stream_pair();
  dgram_pair();
  named();
  abstract();
  named_dgram();
  pass_fds();
  bulk();
  return 0;
}
