/*
 * Socket behaviour that qemu-user translates wrongly, so the oracle is the
 * same program built for the host: SCM_CREDENTIALS (qemu-riscv64 hands
 * back zeros), a cmsg_len below sizeof(struct cmsghdr) (qemu ignores the
 * control data; Linux refuses it), socket types out of range and unknown
 * type flags (qemu masks them off), and SIGPIPE on a seqpacket write.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  CHECK("type 99", socket(AF_UNIX, 99, 0));
  CHECK("type SOCK_MAX", socket(AF_UNIX, 11, 0));
  CHECK("unknown type flag", socket(AF_UNIX, SOCK_STREAM | 0x1000000, 0));
  CHECK("socketpair unknown type flag", socketpair(AF_UNIX, SOCK_STREAM | 0x1000000, 0, (int[2]){ 0 }));

  int sv[2];
  socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
  char data = 'x';
  struct iovec io = { &data, 1 };
  union {
    char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  memset(&u, 0, sizeof u);
  struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = CMSG_SPACE(sizeof(int)) };
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = 8;
  CHECK("cmsg_len below the header", sendmsg(sv[0], &m, 0));
  c->cmsg_len = CMSG_LEN(sizeof(int)) + 64;
  CHECK("cmsg_len past msg_controllen", sendmsg(sv[0], &m, 0));

  /* SO_PASSCRED: the sender's credentials come with each message */
  int on = 1;
  CHECK("SO_PASSCRED", setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
  int v = 0;
  socklen_t len = sizeof v;
  getsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &v, &len);
  printf("SO_PASSCRED reads %d\n", v);
  CHECK("send", send(sv[0], "c", 1, 0));
  memset(&u, 0, sizeof u);
  struct msghdr r = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  CHECK("recvmsg", recvmsg(sv[1], &r, 0));
  c = CMSG_FIRSTHDR(&r);
  if (c == NULL) {
    printf("no control message\n");
    return 1;
  }
  struct ucred cred;
  memcpy(&cred, CMSG_DATA(c), sizeof cred);
  printf("level %d type %d len %zu controllen %zu\n", c->cmsg_level, c->cmsg_type, c->cmsg_len, r.msg_controllen);
  printf("pid is us %d, uid %d, gid %d\n", cred.pid == getpid(), cred.uid == getuid(), cred.gid == getgid());

  /* claimed credentials: our own are accepted as sent */
  memset(&u, 0, sizeof u);
  m.msg_controllen = CMSG_SPACE(sizeof(struct ucred));
  c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_CREDENTIALS;
  c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
  struct ucred mine = { getpid(), getuid(), getgid() };
  memcpy(CMSG_DATA(c), &mine, sizeof mine);
  CHECK("sendmsg SCM_CREDENTIALS", sendmsg(sv[0], &m, 0));
  r.msg_controllen = sizeof u.buf;
  CHECK("recvmsg", recvmsg(sv[1], &r, 0));
  c = CMSG_FIRSTHDR(&r);
  memcpy(&cred, CMSG_DATA(c), sizeof cred);
  printf("type %d pid is us %d\n", c->cmsg_type, cred.pid == getpid());
  c = CMSG_FIRSTHDR(&m);
  c->cmsg_len = CMSG_LEN(sizeof(struct ucred) - 4);
  CHECK("SCM_CREDENTIALS of the wrong size", sendmsg(sv[0], &m, 0));

  /* write() to a seqpacket socket whose peer is gone: EPIPE, and no SIGPIPE
   * (Linux raises it for stream sockets only); the default action would end us. */
  int sp[2];
  socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp);
  close(sp[1]);
  CHECK("seqpacket write, peer gone", write(sp[0], "x", 1));
  close(sp[0]);
  printf("still alive\n");
  return 0;
}
