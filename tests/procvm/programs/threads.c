/* pthreads: a mutex-protected counter, condition variables, TLS, joins, barriers, detached threads. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>

#define N 8
#define ITER 20000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static atomic_long atomic_counter;
static __thread long tls_value;
static pthread_barrier_t barrier;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int turn;
static pid_t tids[N];

static void *worker(void *arg) {
  long id = (long)arg;
  tls_value = id * 100;
  tids[id] = (pid_t)syscall(SYS_gettid);
  pthread_barrier_wait(&barrier);
  for (int i = 0; i < ITER; i++) {
    pthread_mutex_lock(&lock);
    counter++;
    pthread_mutex_unlock(&lock);
    atomic_fetch_add(&atomic_counter, 1);
    if (i % 5000 == 0) sched_yield();
  }
  /* Take turns in order, through a condition variable. */
  pthread_mutex_lock(&lock);
  while (turn != id) pthread_cond_wait(&cond, &lock);
  printf("thread %ld tls %ld\n", id, tls_value);
  turn++;
  pthread_cond_broadcast(&cond);
  pthread_mutex_unlock(&lock);
  return (void *)(id * 2);
}

static atomic_int detached_done;
static void *detached(void *arg) { (void)arg; atomic_store(&detached_done, 1); return NULL; }

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  pthread_t th[N];
  pthread_barrier_init(&barrier, NULL, N);
  tls_value = -1;
  for (long i = 0; i < N; i++) pthread_create(&th[i], NULL, worker, (void *)i);
  long sum = 0;
  for (int i = 0; i < N; i++) {
    void *ret;
    pthread_join(th[i], &ret);
    sum += (long)ret;
  }
  printf("counter %ld (expected %d)\n", counter, N * ITER);
  printf("atomic %ld\n", (long)atomic_counter);
  printf("join results sum %ld\n", sum);
  printf("main tls still %ld\n", tls_value);
  int distinct = 1;
  for (int i = 0; i < N; i++)
    for (int j = i + 1; j < N; j++) distinct &= tids[i] != tids[j] && tids[i] != getpid();
  printf("distinct tids %d\n", distinct);
  pthread_t d;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_create(&d, &attr, detached, NULL);
  while (!atomic_load(&detached_done)) usleep(1000);
  printf("detached ran\n");
  return 0;
}
