/*
 * Ctrl-C on a terminal, in several states; prints "ready MODE" once it is in
 * that state, then waits for the key:
 *   handler   computing, with a SIGINT handler that exits 3
 *   spin      computing, default action
 *   read      blocked reading the terminal (canonical mode)
 *   raw       blocked reading in non-canonical mode with ISIG: still a signal
 *   rawnosig  non-canonical without ISIG: the key is the byte 0x03
 *   ignore    SIGINT ignored: reads a line after the key, exits 0
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static void on_int(int sig) {
  (void)sig;
  static const char msg[] = "got SIGINT\n";
  write(1, msg, sizeof msg - 1);
  _exit(3);
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "spin";
  if (strcmp(mode, "handler") == 0) signal(SIGINT, on_int);
  if (strcmp(mode, "ignore") == 0) signal(SIGINT, SIG_IGN);
  if (strncmp(mode, "raw", 3) == 0) {
    struct termios t;
    if (tcgetattr(0, &t) != 0) return perror("tcgetattr"), 1;
    t.c_lflag &= ~(ICANON | ECHO);
    if (strcmp(mode, "rawnosig") == 0) t.c_lflag &= ~ISIG;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(0, TCSANOW, &t) != 0) return perror("tcsetattr"), 1;
  }
  printf("ready %s\n", mode);
  fflush(stdout);
  if (strcmp(mode, "handler") == 0 || strcmp(mode, "spin") == 0) {
    volatile unsigned long i = 0;
    for (;;) i++;
  }
  unsigned char buf[100];
  ssize_t n = read(0, buf, sizeof buf);
  printf("read %zd, first byte %d\n", n, n > 0 ? buf[0] : -1);
  return 0;
}
