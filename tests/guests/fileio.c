/* fileio.c: file and directory system calls, run inside a scratch directory given as argv[1].
 *
 * Everything is created in argv[1]/work and removed again at the end.  The output does not depend
 * on the scratch directory's name; errors are printed as errno numbers (the same in every libc).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static int failures;

/* Print the result of a call that returns -1 on error, as "name -> value" or "name -> errno N". */
static long report(const char *what, long rc)
{
    if (rc < 0)
        printf("%-40s -> errno %d\n", what, errno);
    else
        printf("%-40s -> %ld\n", what, rc);
    return rc;
}

/* Like report() for calls that must succeed. */
static long must(const char *what, long rc)
{
    if (rc < 0) {
        printf("%-40s -> UNEXPECTED errno %d\n", what, errno);
        failures++;
    }
    return rc;
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void list_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        printf("opendir(%s) -> errno %d\n", path, errno);
        return;
    }
    char *names[64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 64) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *s = malloc(strlen(e->d_name) + 3);
        /* d_type is filesystem dependent (may be DT_UNKNOWN), so use lstat for the type. */
        struct stat st;
        char full[PATH_MAX];
        snprintf(full, sizeof full, "%s/%s", path, e->d_name);
        char t = '?';
        if (lstat(full, &st) == 0)
            t = S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : S_ISREG(st.st_mode) ? 'f' : 'o';
        sprintf(s, "%s:%c", e->d_name, t);
        names[n++] = s;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_names);
    printf("listing of %s (%d entries):", path, n);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

static void basic_files(void)
{
    char buf[256];
    printf("-- open/write/read/lseek --\n");
    int fd = (int)must("open a.txt", open("a.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644));
    report("write 26 bytes", write(fd, "abcdefghijklmnopqrstuvwxyz", 26));
    report("write 0 bytes", write(fd, "", 0));
    report("lseek SEEK_CUR 0", lseek(fd, 0, SEEK_CUR));
    report("read on O_WRONLY fd", read(fd, buf, 1));
    report("close", close(fd));
    report("close again", close(fd));

    fd = (int)must("open a.txt O_RDWR", open("a.txt", O_RDWR));
    ssize_t n = read(fd, buf, 10);
    printf("read 10 -> %zd [%.*s]\n", n, (int)n, buf);
    report("lseek SEEK_SET 20", lseek(fd, 20, SEEK_SET));
    n = read(fd, buf, 100);
    printf("read 100 at 20 -> %zd [%.*s]\n", n, (int)n, buf);
    report("read at EOF", read(fd, buf, 100));
    report("lseek SEEK_END -3", lseek(fd, -3, SEEK_END));
    report("lseek SEEK_CUR -5", lseek(fd, -5, SEEK_CUR));
    report("lseek to -1", lseek(fd, -1, SEEK_SET));
    n = pread(fd, buf, 5, 2);
    printf("pread 5 at 2 -> %zd [%.*s]\n", n, (int)n, buf);
    report("offset after pread", lseek(fd, 0, SEEK_CUR));
    report("pwrite 3 at 24", pwrite(fd, "XYZ", 3, 24));
    report("pwrite 4 at 40 (hole)", pwrite(fd, "TAIL", 4, 40));
    struct stat st;
    must("fstat", fstat(fd, &st));
    printf("fstat: size %lld regular %d mode %o\n", (long long)st.st_size, S_ISREG(st.st_mode),
           (unsigned)(st.st_mode & 07777));
    n = pread(fd, buf, 64, 0);
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == 0)
            buf[i] = '.';
    printf("whole file -> %zd [%.*s]\n", n, (int)n, buf);
    must("ftruncate 30", ftruncate(fd, 30));
    must("stat", stat("a.txt", &st));
    printf("stat after ftruncate: size %lld\n", (long long)st.st_size);
    close(fd);

    /* readv / writev */
    fd = (int)must("creat b.bin", creat("b.bin", 0600));
    struct iovec iov[3] = {{"one ", 4}, {"two ", 4}, {"three\n", 6}};
    report("writev", writev(fd, iov, 3));
    close(fd);
    fd = open("b.bin", O_RDONLY);
    char p1[5] = {0}, p2[20] = {0};
    struct iovec riov[2] = {{p1, 4}, {p2, sizeof p2 - 1}};
    report("readv", readv(fd, riov, 2));
    p2[strcspn(p2, "\n")] = 0;
    printf("readv parts [%s] [%s]\n", p1, p2);
    close(fd);
    must("stat b.bin", stat("b.bin", &st));
    printf("b.bin: size %lld mode %o\n", (long long)st.st_size, (unsigned)(st.st_mode & 07777));

    /* A bigger file, written in odd-sized chunks and read back. */
    fd = (int)must("open big.dat", open("big.dat", O_CREAT | O_RDWR | O_TRUNC, 0644));
    static unsigned char block[70000];
    uint64_t h1 = 0xcbf29ce484222325ULL, h2 = h1;
    for (int i = 0; i < 20; i++) {
        size_t len = 50000 + (size_t)i * 1000;
        for (size_t k = 0; k < len; k++) {
            block[k] = (unsigned char)(k * 13 + (unsigned)i);
            h1 = (h1 ^ block[k]) * 0x100000001b3ULL;
        }
        if (write(fd, block, len) != (ssize_t)len)
            printf("short write\n");
    }
    off_t size = lseek(fd, 0, SEEK_END);
    lseek(fd, 0, SEEK_SET);
    ssize_t got;
    off_t total = 0;
    while ((got = read(fd, block, 65536)) > 0) {
        for (ssize_t k = 0; k < got; k++)
            h2 = (h2 ^ block[k]) * 0x100000001b3ULL;
        total += got;
    }
    printf("big.dat: size %lld read %lld hashes %s\n", (long long)size, (long long)total,
           h1 == h2 ? "match" : "DIFFER");

    /* mmap the file: shared read, private copy-on-write. */
    unsigned char *m = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        printf("mmap failed errno %d\n", errno);
    } else {
        uint64_t h3 = 0xcbf29ce484222325ULL;
        for (off_t k = 0; k < size; k++)
            h3 = (h3 ^ m[k]) * 0x100000001b3ULL;
        printf("mmap shared: hash %s\n", h3 == h1 ? "match" : "DIFFER");
        munmap(m, (size_t)size);
    }
    m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (m != MAP_FAILED) {
        unsigned char first = m[0];
        m[0] = (unsigned char)(first + 1);
        unsigned char disk;
        pread(fd, &disk, 1, 0);
        printf("mmap private: mapped %d file %d\n", m[0], disk);
        munmap(m, 8192);
    }
    m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
    if (m != MAP_FAILED) {
        memcpy(m, "SHARED", 6);
        msync(m, 4096, MS_SYNC);
        munmap(m, 4096);
        char back[7] = {0};
        pread(fd, back, 6, 4096);
        printf("mmap shared write: file has [%s]\n", back);
    }
    close(fd);
}

/* base: the real path of the scratch directory. */
static void directories(const char *base)
{
    char buf[PATH_MAX];
    struct stat st;
    printf("-- directories, links, rename --\n");
    must("mkdir sub", mkdir("sub", 0755));
    report("mkdir sub again", mkdir("sub", 0755));
    must("mkdir sub/inner", mkdir("sub/inner", 0700));
    int fd = open("sub/file1", O_CREAT | O_WRONLY, 0644);
    write(fd, "1", 1);
    close(fd);
    fd = open("sub/file2", O_CREAT | O_WRONLY, 0644);
    close(fd);
    report("rmdir non-empty sub", rmdir("sub"));
    report("unlink directory sub", unlink("sub"));
    must("rename sub/file2 -> sub/renamed", rename("sub/file2", "sub/renamed"));
    report("stat old name", stat("sub/file2", &st));
    report("rename missing", rename("nope", "sub/x"));
    report("rename into missing dir", rename("sub/renamed", "nodir/x"));
    must("symlink", symlink("sub/file1", "link1"));
    ssize_t n = readlink("link1", buf, sizeof buf);
    printf("readlink link1 -> %zd [%.*s]\n", n, (int)(n > 0 ? n : 0), buf);
    report("readlink regular file", readlink("a.txt", buf, sizeof buf));
    report("readlink missing", readlink("missing", buf, sizeof buf));
    must("lstat link1", lstat("link1", &st));
    printf("lstat link1: symlink %d size %lld\n", S_ISLNK(st.st_mode), (long long)st.st_size);
    must("stat link1", stat("link1", &st));
    printf("stat link1: regular %d size %lld\n", S_ISREG(st.st_mode), (long long)st.st_size);
    must("symlink dangling", symlink("does-not-exist", "dangling"));
    report("stat dangling", stat("dangling", &st));
    must("link", link("a.txt", "hard.txt"));
    must("stat hard.txt", stat("hard.txt", &st));
    printf("hard link count %lu\n", (unsigned long)st.st_nlink);
    list_dir(".");
    list_dir("sub");

    printf("-- access --\n");
    report("access a.txt F_OK", access("a.txt", F_OK));
    report("access a.txt R_OK|W_OK", access("a.txt", R_OK | W_OK));
    report("access missing F_OK", access("missing", F_OK));
    report("access sub X_OK", access("sub", X_OK));

    printf("-- chdir/getcwd --\n");
    must("chdir sub/inner", chdir("sub/inner"));
    if (getcwd(buf, sizeof buf)) {
        const char *last = strrchr(buf, '/');
        printf("getcwd last component: %s\n", last ? last + 1 : buf);
        printf("getcwd starts with realpath(argv[1]): %d\n", strncmp(buf, base, strlen(base)) == 0);
    }
    report("getcwd with 1-byte buffer", getcwd(buf, 1) ? 0 : -1);
    must("chdir ../..", chdir("../.."));
    if (getcwd(buf, sizeof buf))
        printf("back in: %s\n", strrchr(buf, '/') + 1);
    report("chdir missing", chdir("missing"));
    report("chdir to a file", chdir("a.txt"));

    printf("-- openat/fstatat/unlinkat --\n");
    int dfd = (int)must("open sub O_DIRECTORY", open("sub", O_RDONLY | O_DIRECTORY));
    fd = (int)must("openat dfd new", openat(dfd, "at-file", O_CREAT | O_WRONLY, 0644));
    write(fd, "hello at", 8);
    close(fd);
    must("fstatat", fstatat(dfd, "at-file", &st, 0));
    printf("fstatat size %lld\n", (long long)st.st_size);
    report("unlinkat file", unlinkat(dfd, "at-file", 0));
    report("unlinkat inner (no AT_REMOVEDIR)", unlinkat(dfd, "inner", 0));
    report("unlinkat inner AT_REMOVEDIR", unlinkat(dfd, "inner", AT_REMOVEDIR));
    close(dfd);
    report("open file with O_DIRECTORY", open("a.txt", O_RDONLY | O_DIRECTORY));
}

static void descriptors(void)
{
    char buf[64];
    printf("-- dup/dup2/pipe/fcntl --\n");
    int fd = (int)must("open a.txt", open("a.txt", O_RDONLY));
    int fd2 = dup(fd);
    printf("dup gives a new fd: %d\n", fd2 > fd);
    read(fd, buf, 4);
    report("offset shared by dup", lseek(fd2, 0, SEEK_CUR));
    report("dup2 onto 100", dup2(fd, 100));
    report("read via 100", read(100, buf, 2));
    report("dup2 same fd", dup2(fd, fd) == fd ? 0 : -1);
    int fd50 = fcntl(fd, F_DUPFD, 50);
    printf("fcntl F_DUPFD 50 gives an fd >= 50: %d\n", fd50 >= 50);
    report("fcntl F_GETFD", fcntl(fd, F_GETFD));
    report("fcntl F_SETFD CLOEXEC", fcntl(fd, F_SETFD, FD_CLOEXEC));
    report("fcntl F_GETFD", fcntl(fd, F_GETFD));
    int fl = fcntl(fd, F_GETFL);
    printf("F_GETFL: accmode rdonly %d append %d nonblock %d\n", (fl & O_ACCMODE) == O_RDONLY, !!(fl & O_APPEND),
           !!(fl & O_NONBLOCK));
    must("F_SETFL O_NONBLOCK|O_APPEND", fcntl(fd, F_SETFL, fl | O_NONBLOCK | O_APPEND));
    fl = fcntl(fd, F_GETFL);
    printf("F_GETFL: accmode rdonly %d append %d nonblock %d\n", (fl & O_ACCMODE) == O_RDONLY, !!(fl & O_APPEND),
           !!(fl & O_NONBLOCK));
    close(fd);
    close(fd2);
    close(100);
    close(fd50);
    report("read closed fd", read(fd, buf, 1));
    report("fstat bad fd", fstat(-1, &(struct stat){0}));
    fd = open("a.txt", O_RDONLY);
    report("write to O_RDONLY", write(fd, "x", 1));
    close(fd);

    /* O_APPEND writes always go to the end. */
    fd = open("a.txt", O_WRONLY | O_APPEND);
    lseek(fd, 0, SEEK_SET);
    write(fd, "+++", 3);
    report("offset after O_APPEND write", lseek(fd, 0, SEEK_CUR));
    close(fd);

    int p[2];
    must("pipe", pipe(p));
    report("write to pipe", write(p[1], "through the pipe", 16));
    ssize_t n = read(p[0], buf, sizeof buf);
    printf("read from pipe -> %zd [%.*s]\n", n, (int)n, buf);
    report("lseek on pipe", lseek(p[0], 0, SEEK_CUR));
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    report("read empty non-blocking pipe", read(p[0], buf, sizeof buf));
    close(p[1]);
    report("read pipe after writer closed", read(p[0], buf, sizeof buf));
    close(p[0]);
    must("pipe", pipe(p));
    close(p[0]);
    /* Writing to a pipe without readers raises SIGPIPE; ignore it to see EPIPE. */
    signal(SIGPIPE, SIG_IGN);
    report("write pipe without reader", write(p[1], "x", 1));
    close(p[1]);
}

static void stdio_files(void)
{
    char line[128];
    printf("-- stdio --\n");
    FILE *f = fopen("notes.txt", "w");
    if (!f) {
        printf("fopen failed errno %d\n", errno);
        return;
    }
    for (int i = 1; i <= 5; i++)
        fprintf(f, "line %d: %s %.2f\n", i, i % 2 ? "odd" : "even", i * 1.25);
    fputs("no newline at end", f);
    printf("ftell after writing: %ld\n", ftell(f));
    fclose(f);
    f = fopen("notes.txt", "r");
    int count = 0;
    while (fgets(line, sizeof line, f)) {
        count++;
        line[strcspn(line, "\n")] = 0;
        printf("fgets %d: [%s]\n", count, line);
    }
    printf("feof %d ferror %d\n", feof(f) != 0, ferror(f) != 0);
    fseek(f, 5, SEEK_SET);
    int c = fgetc(f);
    printf("fgetc at 5: %c\n", c);
    rewind(f);
    char word[16];
    int num;
    if (fscanf(f, "%15s %d", word, &num) == 2)
        printf("fscanf: %s %d\n", word, num);
    fclose(f);
    f = fopen("notes.txt", "a+");
    fprintf(f, "\nappended");
    fseek(f, -8, SEEK_END);
    size_t r = fread(line, 1, 8, f);
    printf("a+ read back %zu [%.*s]\n", r, (int)r, line);
    fclose(f);
    f = fopen("missing/notes.txt", "r");
    printf("fopen missing -> %s errno %d\n", f ? "ok" : "NULL", errno);
    report("remove notes.txt", remove("notes.txt"));
}

static void cleanup(void)
{
    printf("-- cleanup --\n");
    const char *files[] = {"a.txt", "b.bin", "big.dat", "hard.txt", "link1", "dangling", "sub/file1",
                           "sub/renamed"};
    for (unsigned i = 0; i < sizeof files / sizeof files[0]; i++)
        must(files[i], unlink(files[i]));
    report("unlink missing", unlink("a.txt"));
    must("rmdir sub", rmdir("sub"));
    list_dir(".");
    must("chdir ..", chdir(".."));
    must("rmdir work", rmdir("work"));
    report("rmdir work again", rmdir("work"));
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: fileio SCRATCH-DIR\n");
        return 2;
    }
    umask(022);
    static char base[PATH_MAX];
    if (!realpath(argv[1], base) || chdir(base) != 0) {
        fprintf(stderr, "cannot chdir to the scratch directory (errno %d)\n", errno);
        return 2;
    }
    must("mkdir work", mkdir("work", 0777));
    must("chdir work", chdir("work"));
    report("open missing file", open("missing.txt", O_RDONLY));
    report("open O_CREAT|O_EXCL twice", (close(open("x", O_CREAT | O_EXCL | O_WRONLY, 0600)),
                                         open("x", O_CREAT | O_EXCL | O_WRONLY, 0600)));
    unlink("x");
    report("open missing dir/file", open("nodir/file", O_CREAT | O_WRONLY, 0644));
    basic_files();
    directories(base);
    descriptors();
    stdio_files();
    cleanup();
    printf("unexpected failures: %d\n", failures);
    return failures ? 1 : 0;
}
