/* Shared by the socket test programs: CHECK prints a call's result, with errno's name when it failed. */
#ifndef CHECK_H
#define CHECK_H
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define CHECK(label, expr)                                                                   \
  do {                                                                                       \
    errno = 0;                                                                               \
    long r_ = (long)(expr);                                                                  \
    printf("%s: %ld%s%s\n", label, r_, r_ < 0 ? " " : "", r_ < 0 ? strerrorname_np(errno) : ""); \
  } while (0)

#endif
