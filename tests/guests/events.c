/* events.c: eventfd and epoll as event loops use them — 64-bit user data carried through
 * epoll_event, level and edge triggering, a timeout, EPOLL_CTL_MOD/DEL, errors, and a thread
 * waking the main thread's epoll_wait through an eventfd. Deterministic output only. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

static int efd;

static void *poster(void *arg) {
    (void)arg;
    usleep(20000);
    uint64_t one = 5;
    (void)!write(efd, &one, sizeof one);
    return NULL;
}

static void show_events(const char *what, int n, struct epoll_event *ev) {
    printf("%s: %d", what, n);
    for (int i = 0; i < n; i++) printf(" [%#x %#llx]", ev[i].events, (unsigned long long)ev[i].data.u64);
    printf("\n");
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    efd = eventfd(3, EFD_CLOEXEC);
    uint64_t value = 0;
    (void)!read(efd, &value, sizeof value);
    printf("eventfd initial value %llu\n", (unsigned long long)value);
    int sem = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
    (void)!read(sem, &value, sizeof value);
    printf("semaphore read %llu", (unsigned long long)value);
    (void)!read(sem, &value, sizeof value);
    errno = 0;
    printf(", %llu, then %s\n", (unsigned long long)value, read(sem, &value, sizeof value) < 0 && errno == EAGAIN ? "EAGAIN" : "?");
    printf("eventfd bad flags: %s\n", eventfd(0, 0x40) < 0 && errno == EINVAL ? "EINVAL" : "?");

    int ep = epoll_create1(EPOLL_CLOEXEC);
    int fds[2];
    pipe(fds);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1122334455667788ull};
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[0], &ev);
    ev.events = EPOLLIN;
    ev.data.u64 = 0xfeedface00000001ull;
    epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
    struct epoll_event out[8];
    show_events("nothing ready (timeout 10 ms)", epoll_wait(ep, out, 8, 10), out);
    (void)!write(fds[1], "ab", 2);
    show_events("pipe readable", epoll_wait(ep, out, 8, 0), out);
    show_events("still readable (level)", epoll_wait(ep, out, 8, 0), out);
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = 42;
    epoll_ctl(ep, EPOLL_CTL_MOD, fds[0], &ev);
    show_events("edge, after MOD", epoll_wait(ep, out, 8, 0), out);
    show_events("edge, no new data", epoll_wait(ep, out, 8, 0), out);
    char buf[4];
    (void)!read(fds[0], buf, 2);
    epoll_ctl(ep, EPOLL_CTL_DEL, fds[0], NULL);
    printf("ctl add twice: %s\n", epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) < 0 && errno == EEXIST ? "EEXIST" : "?");
    printf("wait maxevents 0: %s\n", epoll_wait(ep, out, 0, 0) < 0 && errno == EINVAL ? "EINVAL" : "?");
    pthread_t t;
    pthread_create(&t, NULL, poster, NULL);
    show_events("woken by a thread's eventfd write", epoll_wait(ep, out, 8, 5000), out);
    pthread_join(t, NULL);
    (void)!read(efd, &value, sizeof value);
    printf("eventfd value %llu\n", (unsigned long long)value);
    return 0;
}
