/*
 * Deep directory trees: chdir into long names until the absolute path is
 * far past PATH_MAX, then relative calls there (Linux limits each call's
 * own path, not the cwd's); stat(".") and getcwd there and in a removed
 * cwd (stat works with nlink 0, getcwd is ENOENT). argv[1]: a scratch directory.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "check.h"

int main(int argc, char **argv) {
  if (argc < 2 || chdir(argv[1]) != 0) return 2;
  setvbuf(stdout, NULL, _IOLBF, 0);
  char name[201];
  memset(name, 'd', 200);
  name[200] = 0;
  int levels = 0;
  for (int i = 0; i < 30; i++) {
    name[0] = 'a' + i % 26;
    if (mkdir(name, 0755) != 0 || chdir(name) != 0) {
      printf("level %d: %s\n", i, strerrorname_np(errno));
      return 1;
    }
    levels++;
  }
  printf("went down %d levels (about %d bytes)\n", levels, levels * 201);
  struct stat st;
  CHECK("stat .", stat(".", &st));
  printf("is dir %d nlink %ld\n", S_ISDIR(st.st_mode), (long)st.st_nlink);
  CHECK("mkdir leaf", mkdir("leaf", 0755));
  CHECK("mkdir leaf again", mkdir("leaf", 0755));
  int fd = open("leaf/file", O_CREAT | O_WRONLY, 0644);
  CHECK("open leaf/file", fd >= 0);
  CHECK("write", write(fd, "deep", 4));
  close(fd);
  CHECK("stat leaf/file", stat("leaf/file", &st));
  printf("size %ld\n", (long)st.st_size);
  CHECK("rename", rename("leaf/file", "leaf/moved"));
  CHECK("access", access("leaf/moved", R_OK));
  CHECK("chdir leaf", chdir("leaf"));
  CHECK("stat moved", stat("moved", &st));
  CHECK("chdir ..", chdir(".."));
  CHECK("stat leaf", stat("leaf", &st));
  int dfd = open(".", O_RDONLY | O_DIRECTORY);
  CHECK("open . (dir fd)", dfd >= 0);
  CHECK("mkdirat dfd", mkdirat(dfd, "sub", 0755));
  CHECK("fstatat dfd sub", fstatat(dfd, "sub", &st, 0));
  CHECK("unlinkat dfd sub", unlinkat(dfd, "sub", AT_REMOVEDIR));
  char buf[16384];
  CHECK("getcwd syscall", syscall(SYS_getcwd, buf, sizeof buf));
  CHECK("fchdir back", fchdir(dfd));
  CHECK("stat leaf after fchdir", stat("leaf", &st));
  close(dfd);

  /* A cwd that was removed. */
  CHECK("mkdir gone", mkdir("gone", 0755));
  CHECK("chdir gone", chdir("gone"));
  CHECK("rmdir ../gone", rmdir("../gone"));
  CHECK("stat . (removed)", stat(".", &st));
  printf("is dir %d nlink %ld\n", S_ISDIR(st.st_mode), (long)st.st_nlink);
  CHECK("getcwd (removed)", getcwd(buf, sizeof buf) == NULL ? -1 : 0);
  CHECK("mkdir in removed cwd", mkdir("x", 0755));
  CHECK("open in removed cwd", open("y", O_CREAT | O_WRONLY, 0644));
  CHECK("chdir ..", chdir(".."));
  CHECK("stat leaf", stat("leaf", &st));

  /* A short cwd removed too. */
  if (chdir(argv[1]) != 0) return 2;
  CHECK("mkdir short", mkdir("short", 0755));
  CHECK("chdir short", chdir("short"));
  CHECK("rmdir ../short", rmdir("../short"));
  CHECK("stat . (removed)", stat(".", &st));
  printf("nlink %ld\n", (long)st.st_nlink);
  CHECK("getcwd (removed)", getcwd(buf, sizeof buf) == NULL ? -1 : 0);
  return 0;
}
