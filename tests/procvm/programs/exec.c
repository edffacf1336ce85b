/*
 * execve of riscv64 programs and #! scripts inside the process VM. Not
 * differential: qemu-riscv64 without binfmt_misc cannot exec riscv64 programs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && strcmp(argv[1], "child") == 0) {
    printf("child argv:");
    for (int i = 0; i < argc; i++) printf(" [%s]", i == 0 ? "argv0" : argv[i]);
    printf(" env=%s\n", getenv("EXEC_VAR") ? getenv("EXEC_VAR") : "(unset)");
    char buf[32] = {0};
    ssize_t n = read(0, buf, sizeof buf - 1);
    printf("child stdin %zd: %s\n", n, buf);
    printf("cloexec fd closed: %d\n", fcntl(5, F_GETFD) == -1 && errno == EBADF);
    printf("plain fd kept: %d\n", fcntl(6, F_GETFD) == 0);
    return 5;
  }
  if (argc > 1 && strcmp(argv[1], "script") == 0) {
    printf("via script: argv[2]=%s argv[3]=%s argv[4]=%s\n", argv[2], argc > 3 ? argv[3] : "-", argc > 4 ? argv[4] : "-");
    return 6;
  }
  int fds[2];
  pipe(fds);
  int ce = open("/dev/null", O_RDONLY | O_CLOEXEC);
  dup3(ce, 5, O_CLOEXEC);
  int keep = open("/dev/null", O_RDONLY);
  dup2(keep, 6);
  pid_t p = fork();
  if (p == 0) {
    dup2(fds[0], 0);
    close(fds[0]);
    close(fds[1]);
    char *args[] = {"argv0", "child", "arg two", NULL};
    char *env[] = {"EXEC_VAR=value", NULL};
    execve("/proc/self/exe", args, env);
    printf("execve failed: %s\n", strerrorname_np(errno));
    _exit(99);
  }
  close(fds[0]);
  write(fds[1], "through stdin", 13);
  close(fds[1]);
  int st;
  waitpid(p, &st, 0);
  printf("exec child exited %d\n", WEXITSTATUS(st));

  /* A #! script whose interpreter is this program, with one interpreter argument. */
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  self[n] = 0;
  char script[4200];
  snprintf(script, sizeof script, "%s/script.sh", argc > 1 ? argv[1] : "/tmp");
  FILE *f = fopen(script, "w");
  fprintf(f, "#!%s script\nnot read by anyone\n", self);
  fclose(f);
  chmod(script, 0755);
  p = vfork();
  if (p == 0) {
    execl(script, "ignored-argv0", "extra", NULL);
    _exit(98);
  }
  waitpid(p, &st, 0);
  printf("script exited %d\n", WEXITSTATUS(st));
  char plain[4200];
  snprintf(plain, sizeof plain, "%s/plain.txt", argc > 1 ? argv[1] : "/tmp");
  close(open(plain, O_CREAT | O_WRONLY, 0644));
  printf("exec non-executable: %d %s\n", execl(plain, "x", NULL), strerrorname_np(errno));
  chmod(plain, 0755);
  printf("exec not a program: %d %s\n", execl(plain, "x", NULL), strerrorname_np(errno));
  unlink(plain);
  printf("exec directory: %d %s\n", execl("/tmp", "x", NULL), strerrorname_np(errno));
  unlink(script);
  return 0;
}
