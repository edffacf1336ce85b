/*
 * NETLINK_ROUTE sockets: getifaddrs(), if_nametoindex()/if_nameindex(),
 * getaddrinfo's AI_ADDRCONFIG, the SIOCGIF* ioctls, raw RTM_GETLINK / RTM_GETADDR dumps and
 * single requests, acks and errors, malformed requests, addresses,
 * options and poll.
 *
 * Runs under qemu-riscv64 (which hands netlink to the host kernel) and
 * under typevisor exec; prints only what is the same for both: no port
 * ids, no counters, no datagram sizes (our messages carry fewer
 * attributes than the kernel's, so a dump splits differently).
 *
 * With the argument "qemu-gets-wrong" it does only what qemu-user
 * mistranslates (message types it does not know, option values shorter
 * than an int); that run's oracle is the program built for the host.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(what, expr) printf("%s: %s\n", what, (expr) ? "yes" : "NO")

static const char *err(long r) {
  static char buf[64];
  if (r >= 0) snprintf(buf, sizeof buf, "%ld", r);
  else snprintf(buf, sizeof buf, "-1 %s", strerrorname_np(errno));
  return buf;
}

static int nlsock(int type) {
  int fd = socket(AF_NETLINK, type | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) {
    perror("socket");
    exit(1);
  }
  return fd;
}

static unsigned portid(int fd) {
  struct sockaddr_nl a;
  socklen_t len = sizeof a;
  memset(&a, 0xff, sizeof a);
  if (getsockname(fd, (struct sockaddr *)&a, &len) < 0) return 0;
  return a.nl_pid;
}

/* ---- sorted output ------------------------------------------------------------ */

static char *lines[4096];
static int nlines;

static void add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void add(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&lines[nlines], fmt, ap) >= 0 && nlines < 4095) nlines++;
  va_end(ap);
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void flush_sorted(const char *title) {
  printf("%s (%d)\n", title, nlines);
  qsort(lines, nlines, sizeof lines[0], cmp);
  for (int i = 0; i < nlines; i++) {
    printf("  %s\n", lines[i]);
    free(lines[i]);
  }
  nlines = 0;
}

/* ---- getifaddrs ----------------------------------------------------------------- */

static void sockaddr_text(const struct sockaddr *sa, char *out, size_t n) {
  if (sa == NULL) {
    snprintf(out, n, "-");
    return;
  }
  switch (sa->sa_family) {
  case AF_INET:
    inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, n);
    return;
  case AF_INET6: {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    char ip[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
    snprintf(out, n, "%s%%%u", ip, s6->sin6_scope_id);
    return;
  }
  case AF_PACKET: {
    const struct sockaddr_ll *ll = (const struct sockaddr_ll *)sa;
    int at = snprintf(out, n, "ll(if%d type%d len%d)", ll->sll_ifindex, ll->sll_hatype, ll->sll_halen);
    for (int i = 0; i < ll->sll_halen && i < 8 && at < (int)n - 4; i++) at += snprintf(out + at, n - at, "%s%02x", i ? ":" : " ", ll->sll_addr[i]);
    return;
  }
  default:
    snprintf(out, n, "family %d", sa->sa_family);
  }
}

static void list_getifaddrs(void) {
  struct ifaddrs *list;
  if (getifaddrs(&list) < 0) {
    printf("getifaddrs: %s\n", strerrorname_np(errno));
    return;
  }
  for (struct ifaddrs *i = list; i != NULL; i = i->ifa_next) {
    char a[96], m[96], b[96];
    sockaddr_text(i->ifa_addr, a, sizeof a);
    sockaddr_text(i->ifa_netmask, m, sizeof m);
    sockaddr_text(i->ifa_broadaddr, b, sizeof b);
    int family = i->ifa_addr ? i->ifa_addr->sa_family : -1;
    add("%s family %d flags %#x addr %s mask %s brd %s stats %s", i->ifa_name, family, i->ifa_flags, a, m, b,
        family == AF_PACKET ? (i->ifa_data != NULL ? "yes" : "no") : "-");
  }
  freeifaddrs(list);
  flush_sorted("getifaddrs");
}

static void names_and_indexes(void) {
  unsigned lo = if_nametoindex("lo");
  char name[IF_NAMESIZE];
  printf("if_nametoindex(lo) = %u\n", lo);
  printf("if_indextoname(%u) = %s\n", lo, if_indextoname(lo, name) ? name : strerrorname_np(errno));
  unsigned none = if_nametoindex("nosuch0");
  printf("if_nametoindex(nosuch0) = %u %s\n", none, strerrorname_np(errno));
  const char *missing = if_indextoname(999999, name);
  printf("if_indextoname(999999) = %s\n", missing ? missing : strerrorname_np(errno));
  struct if_nameindex *ni = if_nameindex();
  if (ni == NULL) {
    printf("if_nameindex: %s\n", strerrorname_np(errno));
    return;
  }
  for (struct if_nameindex *p = ni; p->if_index != 0; p++) {
    unsigned back = if_nametoindex(p->if_name);
    add("%u %s (back: %s)", p->if_index, p->if_name, back == p->if_index ? "same" : "DIFFERENT");
  }
  if_freenameindex(ni);
  flush_sorted("if_nameindex");
}

/* The interface ioctls, on an AF_INET socket (which also answers for IPv4 addresses) and an AF_UNIX one. */
static void interface_ioctls(void) {
  int in = socket(AF_INET, SOCK_DGRAM, 0), un = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct ifconf ifc = {.ifc_len = 0, .ifc_buf = NULL};
  printf("SIOCGIFCONF size: %s, %s entries\n", err(ioctl(in, SIOCGIFCONF, &ifc)),
         ifc.ifc_len % (int)sizeof(struct ifreq) == 0 ? "whole" : "NOT whole");
  struct ifreq reqs[64];
  ifc.ifc_len = sizeof reqs;
  ifc.ifc_req = reqs;
  ioctl(un, SIOCGIFCONF, &ifc);
  for (int i = 0; i < ifc.ifc_len / (int)sizeof(struct ifreq); i++) {
    char ip[INET_ADDRSTRLEN], mask[INET_ADDRSTRLEN] = "?", brd[INET_ADDRSTRLEN] = "?";
    struct ifreq r = reqs[i];
    inet_ntop(AF_INET, &((struct sockaddr_in *)&r.ifr_addr)->sin_addr, ip, sizeof ip);
    if (ioctl(in, SIOCGIFNETMASK, &r) == 0) inet_ntop(AF_INET, &((struct sockaddr_in *)&r.ifr_netmask)->sin_addr, mask, sizeof mask);
    r = reqs[i];
    if (ioctl(in, SIOCGIFBRDADDR, &r) == 0) inet_ntop(AF_INET, &((struct sockaddr_in *)&r.ifr_broadaddr)->sin_addr, brd, sizeof brd);
    add("%s %s mask %s brd %s", reqs[i].ifr_name, ip, mask, brd);
  }
  flush_sorted("SIOCGIFCONF");
  struct if_nameindex *ni = if_nameindex();
  for (struct if_nameindex *p = ni; p != NULL && p->if_index != 0; p++) {
    struct ifreq r;
    memset(&r, 0, sizeof r);
    strncpy(r.ifr_name, p->if_name, IFNAMSIZ - 1);
    int flags = ioctl(un, SIOCGIFFLAGS, &r) == 0 ? (unsigned short)r.ifr_flags : -1;
    int mtu = ioctl(un, SIOCGIFMTU, &r) == 0 ? r.ifr_mtu : -1;
    int qlen = ioctl(in, SIOCGIFTXQLEN, &r) == 0 ? r.ifr_qlen : -1;
    int index = ioctl(in, SIOCGIFINDEX, &r) == 0 ? r.ifr_ifindex : -1;
    char hw[64] = "?";
    if (ioctl(un, SIOCGIFHWADDR, &r) == 0) {
      unsigned char *a = (unsigned char *)r.ifr_hwaddr.sa_data;
      snprintf(hw, sizeof hw, "type %d %02x:%02x:%02x:%02x:%02x:%02x", r.ifr_hwaddr.sa_family, a[0], a[1], a[2], a[3], a[4], a[5]);
    }
    int got = ioctl(in, SIOCGIFADDR, &r);
    char ip[INET_ADDRSTRLEN] = "";
    if (got == 0) inet_ntop(AF_INET, &((struct sockaddr_in *)&r.ifr_addr)->sin_addr, ip, sizeof ip);
    add("%s flags %#x mtu %d qlen %d index %d hw %s addr %s", p->if_name, flags, mtu, qlen, index, hw, got == 0 ? ip : strerrorname_np(errno));
  }
  if (ni != NULL) if_freenameindex(ni);
  flush_sorted("SIOCGIF* by name");
  struct ifreq r;
  memset(&r, 0, sizeof r);
  strcpy(r.ifr_name, "lo");
  printf("SIOCGIFADDR on AF_UNIX: %s\n", err(ioctl(un, SIOCGIFADDR, &r)));
  strcpy(r.ifr_name, "nosuch0");
  printf("SIOCGIFMTU nosuch0: %s\n", err(ioctl(un, SIOCGIFMTU, &r)));
  printf("SIOCGIFADDR nosuch0: %s\n", err(ioctl(in, SIOCGIFADDR, &r)));
  int nl = nlsock(SOCK_RAW), n = 0;
  printf("FIONREAD on netlink: %s\n", err(ioctl(nl, FIONREAD, &n)));
  close(nl);
  close(in);
  close(un);
}

/* AI_ADDRCONFIG: glibc asks netlink which address families are configured (__check_pf). */
static void addrconfig(void) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG | AI_NUMERICHOST};
  static const char *const hosts[] = {"127.0.0.1", "::1", "192.0.2.1", "2001:db8::1"};
  for (int i = 0; i < 4; i++) {
    struct addrinfo *res;
    int r = getaddrinfo(hosts[i], "80", &hints, &res);
    if (r != 0) {
      add("%s: %s", hosts[i], r == EAI_SYSTEM ? strerrorname_np(errno) : gai_strerror(r));
      continue;
    }
    for (struct addrinfo *p = res; p != NULL; p = p->ai_next) add("%s: family %d", hosts[i], p->ai_family);
    freeaddrinfo(res);
  }
  flush_sorted("getaddrinfo AI_ADDRCONFIG");
}

/* ---- raw requests ------------------------------------------------------------------ */

struct request {
  struct nlmsghdr h;
  union {
    struct ifinfomsg ifi;
    struct ifaddrmsg ifa;
  };
  char attrs[64];
};

static int send_request(int fd, int type, int flags, unsigned seq, int family, int index, const char *name) {
  struct request r;
  memset(&r, 0, sizeof r);
  r.h.nlmsg_type = type;
  r.h.nlmsg_flags = flags;
  r.h.nlmsg_seq = seq;
  if (type == RTM_GETADDR) {
    r.ifa.ifa_family = family;
    r.ifa.ifa_index = index;
    r.h.nlmsg_len = NLMSG_LENGTH(sizeof r.ifa);
  } else {
    r.ifi.ifi_family = family;
    r.ifi.ifi_index = index;
    r.h.nlmsg_len = NLMSG_LENGTH(sizeof r.ifi);
  }
  if (name != NULL) {
    struct rtattr *a = (struct rtattr *)((char *)&r + NLMSG_ALIGN(r.h.nlmsg_len));
    a->rta_type = IFLA_IFNAME;
    a->rta_len = RTA_LENGTH(strlen(name) + 1);
    strcpy(RTA_DATA(a), name);
    r.h.nlmsg_len = NLMSG_ALIGN(r.h.nlmsg_len) + RTA_ALIGN(a->rta_len);
  }
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  return sendto(fd, &r, r.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel);
}

/* One datagram, sized first with MSG_PEEK|MSG_TRUNC; its length, or -errno. */
static long recv_datagram(int fd, char **out, int flags, struct sockaddr_nl *from) {
  long n = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC | flags);
  if (n < 0) return -errno;
  *out = malloc(n > 0 ? n : 1);
  struct iovec iov = {*out, n};
  struct msghdr m = {.msg_name = from, .msg_namelen = from ? sizeof *from : 0, .msg_iov = &iov, .msg_iovlen = 1};
  long got = recvmsg(fd, &m, flags);
  if (got != n || (m.msg_flags & MSG_TRUNC)) printf("recv: peeked %ld, got %ld, flags %#x\n", n, got, m.msg_flags);
  return got;
}

static const char *attr_text(struct rtattr *a, int family) {
  static char buf[256];
  unsigned char *d = RTA_DATA(a);
  int len = RTA_PAYLOAD(a);
  if ((len == 4 && family == AF_INET) || (len == 16 && family == AF_INET6)) {
    inet_ntop(family, d, buf, sizeof buf);
    return buf;
  }
  int at = 0;
  for (int i = 0; i < len && at < 240; i++) at += snprintf(buf + at, sizeof buf - at, "%s%02x", i ? ":" : "", d[i]);
  if (len == 0) snprintf(buf, sizeof buf, "(empty)");
  return buf;
}

/* A link message as one line of stable fields. */
static void describe_link(struct nlmsghdr *h, char *out, size_t n) {
  struct ifinfomsg *ifi = NLMSG_DATA(h);
  int len = IFLA_PAYLOAD(h);
  char name[32] = "?", mac[64] = "-", brd[64] = "-";
  unsigned mtu = 0, txqlen = 0, oper = 99, link = 0, master = 0;
  int stats = 0, stats64 = 0;
  for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    switch (a->rta_type) {
    case IFLA_IFNAME: snprintf(name, sizeof name, "%s", (char *)RTA_DATA(a)); break;
    case IFLA_MTU: mtu = *(unsigned *)RTA_DATA(a); break;
    case IFLA_TXQLEN: txqlen = *(unsigned *)RTA_DATA(a); break;
    case IFLA_OPERSTATE: oper = *(unsigned char *)RTA_DATA(a); break;
    case IFLA_LINK: link = *(unsigned *)RTA_DATA(a); break;
    case IFLA_MASTER: master = *(unsigned *)RTA_DATA(a); break;
    case IFLA_ADDRESS: snprintf(mac, sizeof mac, "%s", attr_text(a, 0)); break;
    case IFLA_BROADCAST: snprintf(brd, sizeof brd, "%s", attr_text(a, 0)); break;
    case IFLA_STATS: stats = RTA_PAYLOAD(a) == sizeof(struct rtnl_link_stats); break;
    case IFLA_STATS64: stats64 = RTA_PAYLOAD(a) >= 24 * 8; break;
    }
  }
  snprintf(out, n, "%d %s type %d flags %#x mtu %u txqlen %u oper %u link %u master %u mac %s brd %s stats %d/%d", ifi->ifi_index,
           name, ifi->ifi_type, ifi->ifi_flags, mtu, txqlen, oper, link, master, mac, brd, stats, stats64);
}

static void describe_addr(struct nlmsghdr *h, char *out, size_t n) {
  struct ifaddrmsg *ifa = NLMSG_DATA(h);
  int len = IFA_PAYLOAD(h);
  int at = snprintf(out, n, "family %d index %d prefix %d flags %#x scope %d", ifa->ifa_family, ifa->ifa_index, ifa->ifa_prefixlen,
                    ifa->ifa_flags, ifa->ifa_scope);
  for (struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len) && at < (int)n - 80; a = RTA_NEXT(a, len)) {
    switch (a->rta_type) {
    case IFA_ADDRESS: at += snprintf(out + at, n - at, " address %s", attr_text(a, ifa->ifa_family)); break;
    case IFA_LOCAL: at += snprintf(out + at, n - at, " local %s", attr_text(a, ifa->ifa_family)); break;
    case IFA_BROADCAST: at += snprintf(out + at, n - at, " brd %s", attr_text(a, ifa->ifa_family)); break;
    case IFA_LABEL: at += snprintf(out + at, n - at, " label %s", (char *)RTA_DATA(a)); break;
    case IFA_FLAGS: at += snprintf(out + at, n - at, " IFA_FLAGS %#x", *(unsigned *)RTA_DATA(a)); break;
    case IFA_CACHEINFO: {
      struct ifa_cacheinfo *ci = RTA_DATA(a);
      at += snprintf(out + at, n - at, " lft %d/%d", (int)ci->ifa_valid, (int)ci->ifa_prefered);
      break;
    }
    }
  }
}

/*
 * Reads a dump to its NLMSG_DONE: every message must carry our port id and
 * the request's sequence number. Adds one sorted line per message.
 */
static int read_dump(int fd, unsigned seq, int expect_type) {
  unsigned me = portid(fd);
  int count = 0, bad = 0;
  for (;;) {
    char *buf;
    struct sockaddr_nl from;
    long n = recv_datagram(fd, &buf, 0, &from);
    if (n < 0) {
      printf("dump recv: %s\n", strerrorname_np(-n));
      return -1;
    }
    if (from.nl_family != AF_NETLINK || from.nl_pid != 0 || from.nl_groups != 0) bad++;
    int len = n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq || h->nlmsg_pid != me) bad++;
      if (h->nlmsg_type == NLMSG_DONE) {
        printf("  done: len %u flags %#x errno %d; %d messages, %d mismatched headers\n", h->nlmsg_len, h->nlmsg_flags,
               *(int *)NLMSG_DATA(h), count, bad);
        free(buf);
        return count;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        printf("  error %d\n", ((struct nlmsgerr *)NLMSG_DATA(h))->error);
        continue;
      }
      if (h->nlmsg_type != expect_type || (h->nlmsg_flags & NLM_F_MULTI) == 0) bad++;
      char line[512];
      if (expect_type == RTM_NEWLINK) describe_link(h, line, sizeof line);
      else describe_addr(h, line, sizeof line);
      add("%s%s", line, h->nlmsg_flags & NLM_F_DUMP_FILTERED ? " (filtered)" : "");
      count++;
    }
    free(buf);
  }
}

/* The extended ack's message (NLMSGERR_ATTR_MSG), when the kernel gave one. */
static void print_ext_ack(struct nlmsghdr *h, int off) {
  if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return;
  int len = (int)h->nlmsg_len - off;
  for (struct rtattr *a = (struct rtattr *)((char *)h + off); RTA_OK(a, len); a = RTA_NEXT(a, len))
    if (a->rta_type == NLMSGERR_ATTR_MSG) printf(" msg \"%s\"", (char *)RTA_DATA(a));
}

static void print_message(const char *what, int fd) {
  char *buf;
  long n = recv_datagram(fd, &buf, MSG_DONTWAIT, NULL);
  if (n < 0) {
    printf("%s: recv %s\n", what, strerrorname_np(-n));
    return;
  }
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  printf("%s: type %d flags %#x seq %u pid %s", what, h->nlmsg_type, h->nlmsg_flags, h->nlmsg_seq,
         h->nlmsg_pid == portid(fd) ? "ours" : "OTHER");
  if (h->nlmsg_type == NLMSG_ERROR) {
    struct nlmsgerr *e = NLMSG_DATA(h);
    printf(" error %d (%s) len %u; echoed: len %u type %d flags %#x seq %u", e->error, e->error ? strerrorname_np(-e->error) : "ack",
           h->nlmsg_len, e->msg.nlmsg_len, e->msg.nlmsg_type, e->msg.nlmsg_flags, e->msg.nlmsg_seq);
    int off = NLMSG_HDRLEN + sizeof(struct nlmsgerr);
    if (!(h->nlmsg_flags & NLM_F_CAPPED)) off += NLMSG_ALIGN(e->msg.nlmsg_len - NLMSG_HDRLEN);
    print_ext_ack(h, off);
  } else if (h->nlmsg_type == RTM_NEWLINK) {
    char line[512];
    describe_link(h, line, sizeof line);
    printf(" %s", line);
  } else if (h->nlmsg_type == NLMSG_DONE) {
    printf(" errno %d", *(int *)NLMSG_DATA(h));
    print_ext_ack(h, NLMSG_HDRLEN + sizeof(int));
  }
  printf("\n");
  free(buf);
}

static void expect_nothing(const char *what, int fd) {
  char c;
  long r = recv(fd, &c, 1, MSG_DONTWAIT);
  printf("%s: %s\n", what, err(r));
}

static int setopt(int fd, int name, int val) { return setsockopt(fd, SOL_NETLINK, name, &val, sizeof val); }

static void dumps(void) {
  int fd = nlsock(SOCK_RAW);
  struct sockaddr_nl me = {.nl_family = AF_NETLINK};
  bind(fd, (struct sockaddr *)&me, sizeof me);

  send_request(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 100, AF_UNSPEC, 0, NULL);
  int links = read_dump(fd, 100, RTM_NEWLINK);
  flush_sorted("RTM_GETLINK dump");
  send_request(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 101, AF_INET6, 0, NULL);
  CHECK("link dump with family AF_INET6 lists them all", read_dump(fd, 101, RTM_NEWLINK) == links);
  nlines = 0;

  static const int families[] = {AF_UNSPEC, AF_INET, AF_INET6, AF_PACKET};
  for (int i = 0; i < 4; i++) {
    send_request(fd, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 200 + i, families[i], 0, NULL);
    read_dump(fd, 200 + i, RTM_NEWADDR);
    char title[64];
    snprintf(title, sizeof title, "RTM_GETADDR dump, family %d", families[i]);
    flush_sorted(title);
  }

  /* glibc's way: a one-byte rtgenmsg body */
  struct {
    struct nlmsghdr h;
    struct rtgenmsg g;
  } old = {{NLMSG_LENGTH(1), RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 300, 0}, {AF_UNSPEC}};
  send(fd, &old, sizeof old, 0);
  CHECK("rtgenmsg link dump lists them all", read_dump(fd, 300, RTM_NEWLINK) == links);
  nlines = 0;

  /* two dumps in one send: the second is refused while the first runs */
  char two[64];
  memset(two, 0, sizeof two);
  struct nlmsghdr *h1 = (struct nlmsghdr *)two, *h2 = (struct nlmsghdr *)(two + 32);
  *h1 = (struct nlmsghdr){32, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 400, 0};
  *h2 = (struct nlmsghdr){32, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 401, 0};
  printf("send two dumps: %s\n", err(send(fd, two, 64, 0)));
  int busy = 0, got = 0, done = 0;
  while (!done) {
    char *buf;
    long n = recv_datagram(fd, &buf, MSG_DONTWAIT, NULL);
    if (n < 0) {
      printf("two dumps: recv %s\n", strerrorname_np(-n));
      break;
    }
    int len = n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type == NLMSG_ERROR && h->nlmsg_seq == 401) busy = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
      if (h->nlmsg_type == RTM_NEWLINK && h->nlmsg_seq == 400) got++;
      if (h->nlmsg_type == NLMSG_DONE && h->nlmsg_seq == 400) done = 1;
    }
    free(buf);
  }
  printf("second dump refused with %d; first dump still gave %s links\n", busy, got == links ? "all" : "NOT all");

  /* strict checking: header fields are validated, and an address dump may filter by index */
  printf("NETLINK_GET_STRICT_CHK: %s\n", err(setopt(fd, NETLINK_GET_STRICT_CHK, 1)));
  printf("NETLINK_EXT_ACK: %s\n", err(setopt(fd, NETLINK_EXT_ACK, 1)));
  send_request(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 500, AF_UNSPEC, 1, NULL);
  print_message("strict link dump with an index", fd);
  expect_nothing("  then", fd);
  send_request(fd, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 501, AF_UNSPEC, 1, NULL);
  read_dump(fd, 501, RTM_NEWADDR);
  flush_sorted("strict address dump of index 1");
  send_request(fd, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 502, AF_INET, 999999, NULL);
  print_message("strict address dump of a missing index", fd);
  expect_nothing("  then", fd);
  close(fd);
}

static void single_requests(void) {
  int fd = nlsock(SOCK_DGRAM);
  send_request(fd, RTM_GETLINK, NLM_F_REQUEST, 10, AF_UNSPEC, 1, NULL);
  print_message("getlink index 1", fd);
  expect_nothing("  then", fd);
  send_request(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 11, AF_UNSPEC, 0, "lo");
  print_message("getlink name lo + ack", fd);
  print_message("  then", fd);
  send_request(fd, RTM_GETLINK, NLM_F_REQUEST, 12, AF_UNSPEC, 999999, NULL);
  print_message("getlink missing index", fd);
  send_request(fd, RTM_GETLINK, NLM_F_REQUEST, 13, AF_UNSPEC, 0, "nosuch0");
  print_message("getlink missing name", fd);
  send_request(fd, RTM_GETLINK, NLM_F_REQUEST, 14, AF_UNSPEC, 0, NULL);
  print_message("getlink without index or name", fd);
  send_request(fd, RTM_GETLINK, NLM_F_REQUEST, 15, AF_UNSPEC, 0, "a-name-longer-than-ifnamsiz");
  print_message("getlink too long a name", fd);
  send_request(fd, RTM_GETADDR, NLM_F_REQUEST, 17, AF_INET, 0, NULL);
  print_message("getaddr AF_INET without dump", fd);

  printf("NETLINK_CAP_ACK: %s\n", err(setopt(fd, NETLINK_CAP_ACK, 1)));
  send_request(fd, RTM_GETLINK, NLM_F_REQUEST, 18, AF_UNSPEC, 999999, NULL);
  print_message("getlink missing index, capped", fd);
  setopt(fd, NETLINK_CAP_ACK, 0);

  /* what the kernel does not answer, or only acks */
  struct nlmsghdr h = {NLMSG_HDRLEN, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 20, 0};
  printf("no body, send: %s\n", err(send(fd, &h, sizeof h, 0)));
  print_message("  no body", fd);
  h = (struct nlmsghdr){NLMSG_HDRLEN, RTM_GETLINK, NLM_F_ACK, 21, 0};
  send(fd, &h, sizeof h, 0);
  print_message("  not a request", fd);
  h = (struct nlmsghdr){NLMSG_HDRLEN, NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, 22, 0};
  send(fd, &h, sizeof h, 0);
  print_message("  NLMSG_NOOP", fd);
  h = (struct nlmsghdr){8, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 23, 0};
  printf("nlmsg_len 8, send: %s\n", err(send(fd, &h, sizeof h, 0)));
  expect_nothing("  reply", fd);
  struct request r;
  memset(&r, 0, sizeof r);
  r.h = (struct nlmsghdr){200, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 24, 0};
  printf("nlmsg_len past the end, send: %s\n", err(send(fd, &r, 40, 0)));
  expect_nothing("  reply", fd);
  printf("15 bytes, send: %s\n", err(send(fd, &r, 15, 0)));
  expect_nothing("  reply", fd);
  printf("0 bytes, send: %s\n", err(send(fd, &r, 0, 0)));

  /* plain write() and read() */
  memset(&r, 0, sizeof r);
  r.h = (struct nlmsghdr){NLMSG_LENGTH(sizeof r.ifi), RTM_GETLINK, NLM_F_REQUEST, 40, 0};
  r.ifi.ifi_index = 1;
  printf("write: %s\n", err(write(fd, &r, r.h.nlmsg_len)));
  char buf[8192];
  long n = read(fd, buf, sizeof buf);
  printf("read: %s, type %d seq %u\n", n > 0 ? "ok" : err(n), ((struct nlmsghdr *)buf)->nlmsg_seq == 40 ? ((struct nlmsghdr *)buf)->nlmsg_type : -1,
         ((struct nlmsghdr *)buf)->nlmsg_seq);

  /* truncation: a short buffer gets MSG_TRUNC; MSG_TRUNC returns the real length */
  send_request(fd, RTM_GETLINK, NLM_F_REQUEST, 41, AF_UNSPEC, 1, NULL);
  long full = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
  char small[16];
  struct iovec iov = {small, sizeof small};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
  long got = recvmsg(fd, &m, MSG_PEEK);
  printf("peek 16: returned %ld, MSG_TRUNC %s\n", got, m.msg_flags & MSG_TRUNC ? "set" : "clear");
  m.msg_flags = 0;
  got = recvmsg(fd, &m, MSG_TRUNC);
  printf("recv 16 with MSG_TRUNC: full length %s, MSG_TRUNC %s\n", got == full ? "returned" : "NOT returned",
         m.msg_flags & MSG_TRUNC ? "set" : "clear");
  expect_nothing("  the rest of the datagram is gone", fd);

  /* SO_PASSCRED: what the kernel sends carries the credentials of pid 0 */
  setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &(int){1}, sizeof(int));
  send_request(fd, RTM_GETLINK, NLM_F_REQUEST, 42, AF_UNSPEC, 1, NULL);
  char control[256];
  iov = (struct iovec){buf, sizeof buf};
  m = (struct msghdr){.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  printf("recvmsg with SO_PASSCRED: %s", err(recvmsg(fd, &m, 0) > 0 ? 0 : -1));
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
      struct ucred *u = (struct ucred *)CMSG_DATA(c);
      printf(", SCM_CREDENTIALS pid %d uid %d gid %d", u->pid, u->uid, u->gid);
    } else printf(", cmsg %d/%d", c->cmsg_level, c->cmsg_type);
  }
  printf("\n");

  close(fd);
}

static void addresses_and_options(void) {
  int fd = nlsock(SOCK_RAW);
  struct sockaddr_nl a;
  socklen_t len = sizeof a;
  memset(&a, 0xff, sizeof a);
  int r0 = getsockname(fd, (struct sockaddr *)&a, &len);
  printf("getsockname unbound: %s len %u family %d pid %u groups %u\n", err(r0), len, a.nl_family, a.nl_pid, a.nl_groups);
  len = sizeof a;
  memset(&a, 0xff, sizeof a);
  r0 = getpeername(fd, (struct sockaddr *)&a, &len);
  printf("getpeername: %s len %u pid %u groups %u\n", err(r0), len, a.nl_pid, a.nl_groups);

  struct sockaddr_nl me = {.nl_family = AF_NETLINK};
  printf("bind short: %s\n", err(bind(fd, (struct sockaddr *)&me, 8)));
  struct sockaddr_in in = {.sin_family = AF_INET};
  printf("bind AF_INET: %s\n", err(bind(fd, (struct sockaddr *)&in, sizeof in)));
  me.nl_groups = 1 << (RTNLGRP_LINK - 1);
  printf("bind pid 0, RTNLGRP_LINK: %s\n", err(bind(fd, (struct sockaddr *)&me, sizeof me)));
  unsigned pid = portid(fd);
  CHECK("first socket's port id is the pid", pid == (unsigned)getpid());
  len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  printf("getsockname: len %u groups %#x\n", len, a.nl_groups);
  me.nl_pid = pid + 1;
  printf("bind again, another pid: %s\n", err(bind(fd, (struct sockaddr *)&me, sizeof me)));
  me.nl_pid = pid;
  me.nl_groups = 0;
  printf("bind again, same pid, no groups: %s\n", err(bind(fd, (struct sockaddr *)&me, sizeof me)));
  len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  printf("getsockname: groups %#x\n", a.nl_groups);

  int second = nlsock(SOCK_RAW);
  printf("bind to a taken pid: %s\n", err(bind(second, (struct sockaddr *)&me, sizeof me)));
  me.nl_pid = 0;
  bind(second, (struct sockaddr *)&me, sizeof me);
  CHECK("second socket's port id is negative", (int)portid(second) < 0);
  int third = nlsock(SOCK_RAW);
  send_request(third, RTM_GETLINK, NLM_F_REQUEST, 1, AF_UNSPEC, 1, NULL);
  CHECK("sending autobinds", portid(third) != 0 && portid(third) != pid && portid(third) != portid(second));

  struct sockaddr_nl to = {.nl_family = AF_NETLINK, .nl_pid = portid(second)};
  long r = sendto(third, "hello", 5, 0, (struct sockaddr *)&to, sizeof to);
  printf("sendto another socket: %s\n", r == 5 ? "sent" : strerrorname_np(errno));
  if (r == 5) {
    char buf[16] = "";
    struct sockaddr_nl from;
    socklen_t flen = sizeof from;
    r = recvfrom(second, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
    printf("  received %s \"%s\" from %s\n", err(r), buf, from.nl_pid == portid(third) ? "the sender" : "SOMEONE ELSE");
  }
  print_message("  the sender's reply", third);

  struct sockaddr sa = {.sa_family = AF_UNSPEC};
  printf("connect AF_UNSPEC: %s\n", err(connect(fd, &sa, sizeof sa.sa_family)));
  printf("connect AF_INET: %s\n", err(connect(fd, (struct sockaddr *)&in, sizeof in)));
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  printf("connect kernel: %s\n", err(connect(fd, (struct sockaddr *)&kernel, sizeof kernel)));
  printf("sendto short address: %s\n", err(sendto(fd, "x", 1, 0, (struct sockaddr *)&kernel, 4)));
  printf("listen: %s\n", err(listen(fd, 1)));
  printf("accept: %s\n", err(accept(fd, NULL, NULL)));
  printf("shutdown: %s\n", err(shutdown(fd, SHUT_RDWR)));
  int sv[2];
  printf("socketpair: %s\n", err(socketpair(AF_NETLINK, SOCK_RAW, 0, sv)));
  printf("socket(SOCK_STREAM): %s\n", err(socket(AF_NETLINK, SOCK_STREAM, 0)));
  printf("socket(SOCK_SEQPACKET): %s\n", err(socket(AF_NETLINK, SOCK_SEQPACKET, 0)));
  printf("socket(protocol 1): %s\n", err(socket(AF_NETLINK, SOCK_RAW, 1)));
  printf("socket(protocol 32): %s\n", err(socket(AF_NETLINK, SOCK_RAW, 32)));

  int v = -1;
  socklen_t vl = sizeof v;
  getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vl);
  printf("SO_TYPE %d", v);
  getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &vl);
  printf(" SO_DOMAIN %d", v);
  getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &vl);
  printf(" SO_PROTOCOL %d\n", v);
  v = 4096;
  printf("SO_RCVBUF 4096: %s", err(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v)));
  vl = sizeof v;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &vl);
  printf(", reads %d\n", v);
  printf("SO_PASSCRED: %s\n", err(setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &(int){1}, sizeof(int))));

  static const int opts[] = {NETLINK_PKTINFO, NETLINK_BROADCAST_ERROR, NETLINK_NO_ENOBUFS, NETLINK_CAP_ACK, NETLINK_EXT_ACK,
                             NETLINK_GET_STRICT_CHK};
  for (int i = 0; i < 6; i++) {
    int before = -1, after = -1;
    socklen_t l1 = sizeof before, l2 = sizeof after;
    getsockopt(fd, SOL_NETLINK, opts[i], &before, &l1);
    int set = setsockopt(fd, SOL_NETLINK, opts[i], &(int){7}, sizeof(int));
    getsockopt(fd, SOL_NETLINK, opts[i], &after, &l2);
    printf("SOL_NETLINK %d: %d, set 7 %s, then %d (len %u)\n", opts[i], before, err(set), after, l2);
  }
  vl = 2;
  printf("getsockopt optlen 2: %s\n", err(getsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &v, &vl)));
  printf("SOL_NETLINK 99: %s\n", err(setsockopt(fd, SOL_NETLINK, 99, &v, sizeof v)));
  printf("SOL_IP on netlink: %s\n", err(setsockopt(fd, SOL_IP, 1, &v, sizeof v)));
  printf("ADD_MEMBERSHIP 0: %s\n", err(setopt(fd, NETLINK_ADD_MEMBERSHIP, 0)));
  printf("ADD_MEMBERSHIP RTNLGRP_IPV4_IFADDR: %s\n", err(setopt(fd, NETLINK_ADD_MEMBERSHIP, RTNLGRP_IPV4_IFADDR)));
  printf("ADD_MEMBERSHIP 1000: %s\n", err(setopt(fd, NETLINK_ADD_MEMBERSHIP, 1000)));
  unsigned groups[4] = {0, 0, 0, 0};
  vl = sizeof groups;
  printf("LIST_MEMBERSHIPS: %s", err(getsockopt(fd, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, groups, &vl)));
  printf(" first word %#x\n", groups[0]);
  printf("DROP_MEMBERSHIP RTNLGRP_IPV4_IFADDR: %s\n", err(setopt(fd, NETLINK_DROP_MEMBERSHIP, RTNLGRP_IPV4_IFADDR)));
  len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  printf("getsockname: groups %#x\n", a.nl_groups);

  /* poll, non-blocking reads, and a reader that waits for a request another process sends */
  struct pollfd p = {fd, POLLIN | POLLOUT, 0};
  int ready = poll(&p, 1, 0);
  printf("poll idle: %d revents %#x\n", ready, p.revents);
  send_request(fd, RTM_GETLINK, NLM_F_REQUEST, 50, AF_UNSPEC, 1, NULL);
  ready = poll(&p, 1, 0);
  printf("poll with a reply: %d revents %#x\n", ready, p.revents);
  char buf[8192];
  recv(fd, buf, sizeof buf, 0);
  expect_nothing("MSG_DONTWAIT on empty", fd);
  pid_t child = fork();
  if (child == 0) {
    usleep(100 * 1000);
    send_request(fd, RTM_GETLINK, NLM_F_REQUEST, 51, AF_UNSPEC, 1, NULL);
    _exit(0);
  }
  long got = recv(fd, buf, sizeof buf, 0);
  printf("a blocked recv got the reply to the child's request: %s\n",
         got > 0 && ((struct nlmsghdr *)buf)->nlmsg_seq == 51 ? "yes" : "NO");
  waitpid(child, NULL, 0);
  close(fd);
  close(second);
  close(third);
}

/*
 * What qemu-user translates wrongly (it refuses to pass on message types
 * it does not know, and option values shorter than an int): compared with
 * this program built for the host and run natively.
 */
static void what_qemu_gets_wrong(void) {
  int fd = nlsock(SOCK_RAW);
  send_request(fd, 1000, NLM_F_REQUEST, 16, AF_UNSPEC, 0, NULL);
  print_message("type 1000", fd);
  setopt(fd, NETLINK_CAP_ACK, 1);
  send_request(fd, 1000, NLM_F_REQUEST, 18, AF_UNSPEC, 0, NULL);
  print_message("type 1000, capped", fd);
  setopt(fd, NETLINK_CAP_ACK, 0);

  /* two requests in one datagram are answered in order; a bad length ends the batch */
  char batch[96];
  memset(batch, 0, sizeof batch);
  struct nlmsghdr *a = (struct nlmsghdr *)batch, *b = (struct nlmsghdr *)(batch + 32), *c = (struct nlmsghdr *)(batch + 64);
  *a = (struct nlmsghdr){32, RTM_GETLINK, NLM_F_REQUEST, 30, 0};
  ((struct ifinfomsg *)NLMSG_DATA(a))->ifi_index = 1;
  *b = (struct nlmsghdr){17, 999, NLM_F_REQUEST, 31, 0};
  *c = (struct nlmsghdr){5, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 32, 0};
  printf("batch send: %s\n", err(send(fd, batch, sizeof batch, 0)));
  print_message("  first", fd);
  print_message("  second", fd);
  expect_nothing("  third", fd);

  int v = -1;
  socklen_t vl = sizeof v;
  printf("SOL_NETLINK EXT_ACK 1, then optlen 0: %s", err(setopt(fd, NETLINK_EXT_ACK, 1)));
  printf(" %s", err(setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, NULL, 0)));
  getsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &v, &vl);
  printf(", reads %d\n", v);
  close(fd);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 1 && strcmp(argv[1], "qemu-gets-wrong") == 0) {
    what_qemu_gets_wrong();
    return 0;
  }
  list_getifaddrs();
  names_and_indexes();
  addrconfig();
  interface_ioctls();
  dumps();
  single_requests();
  addresses_and_options();
  return 0;
}
