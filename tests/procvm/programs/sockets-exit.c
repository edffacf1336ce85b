/*
 * Exits with sockets still open: a TCP listener, a bound UDP socket, a TCP
 * connection to argv[1]'s port on 127.0.0.1 holding unread data, and a
 * listener whose only reference is in flight inside a unix socket
 * (SCM_RIGHTS). `typevisor exec` must still end at once.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int tcp_listener(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 1) != 0) exit(1);
  return s;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  tcp_listener();
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  if (bind(u, (struct sockaddr *)&a, sizeof a) != 0) return 3;
  int c = socket(AF_INET, SOCK_STREAM, 0);
  a.sin_port = htons(atoi(argv[1]));
  if (connect(c, (struct sockaddr *)&a, sizeof a) != 0) return 4;
  if (write(c, "hello\n", 6) != 6) return 5;
  char buf[8];
  if (read(c, buf, 3) != 3) return 6; /* the server sent more than this */

  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  int hidden = tcp_listener();
  char byte = 0;
  struct iovec io = { &byte, 1 };
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } ctl;
  struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf };
  struct cmsghdr *h = CMSG_FIRSTHDR(&m);
  h->cmsg_level = SOL_SOCKET;
  h->cmsg_type = SCM_RIGHTS;
  h->cmsg_len = CMSG_LEN(sizeof(int));
  /* sv[1] in its own receive queue: a cycle no close undoes (Linux's garbage collector would) */
  memcpy(CMSG_DATA(h), &sv[1], sizeof(int));
  if (sendmsg(sv[0], &m, 0) != 1) return 8;
  memcpy(CMSG_DATA(h), &hidden, sizeof(int));
  if (sendmsg(sv[0], &m, 0) != 1) return 9;
  close(hidden);
  close(sv[0]);
  close(sv[1]);
  printf("leaving with sockets open\n");
  return 7;
}
