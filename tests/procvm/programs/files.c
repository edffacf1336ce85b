/* File system calls against a scratch directory given as argv[1]. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <stdint.h>

#define CHECK(what, expr) do { long r_ = (long)(expr); printf("%-28s = %ld%s%s\n", what, r_, r_ < 0 ? " " : "", r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  if (chdir(argv[1]) != 0) { perror("chdir"); return 2; }
  int fd = open("a.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
  CHECK("open a.txt", fd >= 0);
  CHECK("write", write(fd, "hello world\n", 12));
  struct iovec iov[3] = {{"one ", 4}, {"two ", 4}, {"three\n", 6}};
  CHECK("writev", writev(fd, iov, 3));
  CHECK("lseek cur", lseek(fd, 0, SEEK_CUR));
  CHECK("lseek set 6", lseek(fd, 6, SEEK_SET));
  char buf[64] = {0};
  CHECK("read 5", read(fd, buf, 5));
  printf("buf=<%s>\n", buf);
  CHECK("pread 4@0", pread(fd, buf, 4, 0));
  buf[4] = 0;
  printf("buf=<%s>\n", buf);
  CHECK("lseek cur after pread", lseek(fd, 0, SEEK_CUR));
  CHECK("pwrite 5@0", pwrite(fd, "HELLO", 5, 0));
  CHECK("lseek end", lseek(fd, 0, SEEK_END));
  CHECK("lseek -100", lseek(fd, -100, SEEK_SET));
  char b1[6] = {0}, b2[20] = {0};
  struct iovec riov[2] = {{b1, 5}, {b2, 19}};
  lseek(fd, 0, SEEK_SET);
  CHECK("readv", readv(fd, riov, 2));
  printf("b1=<%s> b2=<%s>\n", b1, b2);
  CHECK("read at eof", read(fd, buf, 10));
  struct stat st;
  CHECK("fstat", fstat(fd, &st));
  printf("size=%ld regular=%d mode=%o nlink=%ld\n", (long)st.st_size, S_ISREG(st.st_mode), st.st_mode & 0777, (long)st.st_nlink);
  CHECK("ftruncate 5", ftruncate(fd, 5));
  CHECK("fstat", fstat(fd, &st));
  printf("size=%ld\n", (long)st.st_size);
  int fd2 = dup(fd);
  CHECK("dup", fd2 > fd);
  CHECK("lseek via dup", lseek(fd2, 2, SEEK_SET));
  CHECK("offset shared", lseek(fd, 0, SEEK_CUR));
  CHECK("dup3 to 10", dup3(fd, 10, O_CLOEXEC));
  CHECK("F_GETFD 10", fcntl(10, F_GETFD));
  CHECK("F_GETFD fd2", fcntl(fd2, F_GETFD));
  CHECK("F_DUPFD 20", fcntl(fd, F_DUPFD, 20));
  CHECK("F_GETFL accmode", fcntl(fd, F_GETFL) & O_ACCMODE);
  CHECK("F_SETFL append", fcntl(fd, F_SETFL, O_APPEND));
  CHECK("F_GETFL append", (fcntl(fd, F_GETFL) & O_APPEND) != 0);
  CHECK("write appends", write(fd, "XY", 2));
  CHECK("size now", lseek(fd, 0, SEEK_END));
  CHECK("close 10", close(10));
  CHECK("close 10 again", close(10));
  CHECK("close 20", close(20));
  CHECK("close fd2", close(fd2));
  CHECK("close fd", close(fd));
  CHECK("read closed fd", read(fd, buf, 1));
  CHECK("mkdir d", mkdir("d", 0755));
  CHECK("mkdir d again", mkdir("d", 0755));
  CHECK("mkdirat d/e", mkdirat(AT_FDCWD, "d/e", 0700));
  int dfd = open("d", O_RDONLY | O_DIRECTORY);
  CHECK("open dir", dfd >= 0);
  int f3 = openat(dfd, "f.txt", O_CREAT | O_WRONLY, 0600);
  CHECK("openat relative to dir", f3 >= 0);
  CHECK("write f.txt", write(f3, "data", 4));
  close(f3);
  CHECK("fstatat f.txt", fstatat(dfd, "f.txt", &st, 0));
  printf("f.txt size=%ld mode=%o\n", (long)st.st_size, st.st_mode & 0777);
  struct statx sx;
  CHECK("statx d/f.txt", statx(AT_FDCWD, "d/f.txt", 0, STATX_BASIC_STATS, &sx));
  printf("statx size=%llu mode=%o isreg=%d\n", (unsigned long long)sx.stx_size, sx.stx_mode & 0777, S_ISREG(sx.stx_mode));
  CHECK("symlink", symlink("f.txt", "d/link"));
  char lb[64] = {0};
  CHECK("readlink", readlink("d/link", lb, sizeof lb));
  printf("link=<%s>\n", lb);
  CHECK("lstat link is lnk", (lstat("d/link", &st), S_ISLNK(st.st_mode)));
  CHECK("stat link is reg", (stat("d/link", &st), S_ISREG(st.st_mode)));
  CHECK("readlink regular", readlink("a.txt", lb, sizeof lb));
  DIR *dir = opendir("d");
  char *names[16];
  int n = 0;
  struct dirent *de;
  while ((de = readdir(dir)) != NULL && n < 16) names[n++] = strdup(de->d_name);
  closedir(dir);
  qsort(names, n, sizeof names[0], cmp);
  for (int i = 0; i < n; i++) printf("entry %s\n", names[i]);
  CHECK("access a.txt R", access("a.txt", R_OK));
  CHECK("access missing", access("missing", F_OK));
  CHECK("faccessat d/f.txt W", faccessat(AT_FDCWD, "d/f.txt", W_OK, 0));
  CHECK("rename", rename("a.txt", "b.txt"));
  CHECK("open old name", open("a.txt", O_RDONLY));
  CHECK("renameat2 noreplace", renameat2(AT_FDCWD, "b.txt", AT_FDCWD, "d/f.txt", RENAME_NOREPLACE));
  CHECK("unlink b.txt", unlink("b.txt"));
  CHECK("unlink missing", unlink("b.txt"));
  CHECK("rmdir nonempty", rmdir("d"));
  CHECK("unlinkat dir no flag", unlinkat(AT_FDCWD, "d/e", 0));
  CHECK("unlinkat AT_REMOVEDIR", unlinkat(AT_FDCWD, "d/e", AT_REMOVEDIR));
  CHECK("open dir for write", open("d", O_WRONLY));
  CHECK("open O_EXCL existing", open("d/f.txt", O_CREAT | O_EXCL | O_WRONLY, 0600));
  CHECK("open ENOTDIR", open("d/f.txt/x", O_RDONLY));
  CHECK("read EFAULT", (fd = open("d/f.txt", O_RDONLY), read(fd, (void *)8, 4)));
  CHECK("read into dir fd", read(dfd, buf, 4));
  char cwd[256];
  CHECK("getcwd", getcwd(cwd, sizeof cwd) != NULL);
  printf("cwd is scratch: %d\n", strcmp(cwd, argv[1]) == 0);
  CHECK("chdir d", chdir("d"));
  CHECK("open via new cwd", (fd = open("f.txt", O_RDONLY)) >= 0);
  CHECK("fchdir back", fchdir(dfd) == 0 && chdir("..") == 0);
  CHECK("umask", umask(022));
  CHECK("umask again", umask(077));
  int p[2];
  CHECK("pipe", pipe(p));
  CHECK("write pipe", write(p[1], "pipedata", 8));
  CHECK("read pipe", read(p[0], buf, sizeof buf));
  CHECK("lseek pipe", lseek(p[0], 0, SEEK_SET));
  CHECK("isatty file", isatty(dfd));
  printf("isatty errno: %s\n", strerrorname_np(errno));
  return 0;
}
