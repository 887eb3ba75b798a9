/* minishell.c: a tiny shell: fork/vfork + execv/execvp + waitpid, and pipelines with pipe + dup2.
 *
 * Usage:
 *   minishell 'COMMAND' ...        run each argument as a command line
 *   minishell                      read command lines from stdin (blank lines and # comments skipped)
 *
 * A command line is words separated by spaces, optionally split into a pipeline by "|" words.
 * A leading word "vfork" makes the shell start the stages with vfork() instead of fork().
 * The word "@self" expands to this program's own path (from /proc/self/exe, else argv[0]) and
 * "@selfname" to its file name; the program's directory is put at the front of PATH, so
 * "@selfname" is found by execvp.  Words containing a "/" are run with execv, others with execvp.
 * After each command the shell prints how every stage ended; its own exit status is that of the
 * last command's last stage (128 + signal number for a signal death).
 *
 * Modes used when the shell runs itself as a child:
 *   --child N      print a line and exit with status N
 *   --echo W...    print the words
 *   --upper        copy stdin to stdout with ASCII letters upper-cased
 *   --wc           print line, word and byte counts of stdin
 *   --signal N     die from signal N (after printing a line)
 *   --env NAME     print the environment variable NAME
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_STAGES 8
#define MAX_WORDS 64

static char self_path[PATH_MAX];
static const char *self_name;

static int child_mode(int argc, char **argv)
{
    const char *mode = argv[1];
    if (strcmp(mode, "--child") == 0 && argc >= 3) {
        const char *depth = getenv("MINISHELL_DEPTH");
        printf("child: exiting with %s (depth %s, argc %d)\n", argv[2], depth ? depth : "unset", argc);
        exit(atoi(argv[2]));
    }
    if (strcmp(mode, "--echo") == 0) {
        for (int i = 2; i < argc; i++)
            printf("%s%s", argv[i], i + 1 < argc ? " " : "");
        printf("\n");
        return 0;
    }
    if (strcmp(mode, "--upper") == 0) {
        int c;
        while ((c = getchar()) != EOF)
            putchar(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
        return 0;
    }
    if (strcmp(mode, "--wc") == 0) {
        long lines = 0, words = 0, bytes = 0;
        int c, in_word = 0;
        while ((c = getchar()) != EOF) {
            bytes++;
            lines += c == '\n';
            int space = c == ' ' || c == '\n' || c == '\t';
            words += !space && !in_word;
            in_word = !space;
        }
        printf("wc: %ld lines, %ld words, %ld bytes\n", lines, words, bytes);
        return 0;
    }
    if (strcmp(mode, "--signal") == 0 && argc >= 3) {
        printf("child: raising signal %s\n", argv[2]);
        fflush(stdout);
        signal(atoi(argv[2]), SIG_DFL);
        raise(atoi(argv[2]));
        return 99;
    }
    if (strcmp(mode, "--env") == 0 && argc >= 3) {
        const char *v = getenv(argv[2]);
        printf("env %s=%s\n", argv[2], v ? v : "(unset)");
        return 0;
    }
    fprintf(stderr, "minishell: unknown mode %s\n", mode);
    return 2;
}

/* Split line into words (in place); "@self"/"@selfname" are expanded.  Returns the word count. */
static int split_words(char *line, char **words)
{
    int n = 0;
    char *save = NULL;
    for (char *w = strtok_r(line, " \t\n", &save); w && n < MAX_WORDS; w = strtok_r(NULL, " \t\n", &save)) {
        if (strcmp(w, "@self") == 0)
            w = self_path;
        else if (strcmp(w, "@selfname") == 0)
            w = (char *)self_name;
        words[n++] = w;
    }
    words[n] = NULL;
    return n;
}

/* The child side of a stage: set up stdin/stdout, exec, and report a failure.  Only
 * async-signal-safe calls are made when called in a vfork child. */
static void child_exec(char **argv, int in_fd, int out_fd, int unused_fd, int after_vfork)
{
    if (in_fd != 0) {
        dup2(in_fd, 0);
        close(in_fd);
    }
    if (out_fd >= 0) {
        dup2(out_fd, 1);
        close(out_fd);
        close(unused_fd);
    }
    if (strchr(argv[0], '/'))
        execv(argv[0], argv);
    else
        execvp(argv[0], argv);
    if (after_vfork) {
        static const char msg[] = "minishell: exec failed\n";
        write(2, msg, sizeof msg - 1);
    } else {
        fprintf(stderr, "minishell: exec %s failed: errno %d\n", argv[0], errno);
    }
    _exit(127);
}

static pid_t start_with_fork(char **argv, int in_fd, int out_fd, int unused_fd)
{
    pid_t pid = fork();
    if (pid == 0)
        child_exec(argv, in_fd, out_fd, unused_fd, 0);
    return pid;
}

static pid_t start_with_vfork(char **argv, int in_fd, int out_fd, int unused_fd)
{
    pid_t pid = vfork();
    if (pid == 0)
        child_exec(argv, in_fd, out_fd, unused_fd, 1);
    return pid;
}

/* Run one command line; returns the status of its last stage as a shell would ($?). */
static int run_command(const char *line_in, int index)
{
    char line[4096];
    char *words[MAX_WORDS + 1];
    char **stages[MAX_STAGES];
    int nstages = 0, use_vfork = 0;

    printf("[%d] $ %s\n", index, line_in);
    snprintf(line, sizeof line, "%s", line_in);
    int n = split_words(line, words);
    int start = 0;
    if (n > 0 && strcmp(words[0], "vfork") == 0) {
        use_vfork = 1;
        start = 1;
    }
    stages[nstages++] = &words[start];
    for (int i = start; i < n; i++) {
        if (strcmp(words[i], "|") == 0) {
            words[i] = NULL;
            if (nstages == MAX_STAGES) {
                printf("[%d] too many stages\n", index);
                return 2;
            }
            stages[nstages++] = &words[i + 1];
        }
    }
    for (int s = 0; s < nstages; s++) {
        if (stages[s][0] == NULL) {
            printf("[%d] syntax error: empty command\n", index);
            return 2;
        }
    }
    fflush(stdout); /* nothing buffered may be duplicated into the children */

    pid_t pids[MAX_STAGES];
    int in_fd = 0;
    for (int s = 0; s < nstages; s++) {
        int p[2] = {-1, -1};
        if (s + 1 < nstages && pipe(p) != 0) {
            printf("[%d] pipe failed: errno %d\n", index, errno);
            return 2;
        }
        pid_t pid = use_vfork ? start_with_vfork(stages[s], in_fd, p[1], p[0])
                              : start_with_fork(stages[s], in_fd, p[1], p[0]);
        if (pid < 0) {
            printf("[%d] fork failed: errno %d\n", index, errno);
            return 2;
        }
        pids[s] = pid;
        if (in_fd != 0)
            close(in_fd);
        if (p[1] >= 0) {
            close(p[1]);
            in_fd = p[0];
        }
    }
    int last = 0;
    for (int s = 0; s < nstages; s++) {
        int status;
        if (waitpid(pids[s], &status, 0) != pids[s]) {
            printf("[%d] waitpid failed: errno %d\n", index, errno);
            return 2;
        }
        if (WIFEXITED(status)) {
            printf("[%d] stage %d exited with status %d\n", index, s + 1, WEXITSTATUS(status));
            last = WEXITSTATUS(status);
        } else if (WIFSIGNALED(status)) {
            printf("[%d] stage %d killed by signal %d\n", index, s + 1, WTERMSIG(status));
            last = 128 + WTERMSIG(status);
        } else {
            printf("[%d] stage %d: unexpected status %#x\n", index, s + 1, status);
            last = 2;
        }
    }
    fflush(stdout);
    return last;
}

/* Find our own path and put its directory at the front of PATH; count the nesting depth. */
static void setup_environment(const char *argv0)
{
    ssize_t len = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (len > 0)
        self_path[len] = '\0';
    else
        snprintf(self_path, sizeof self_path, "%s", argv0);
    const char *slash = strrchr(self_path, '/');
    self_name = slash ? slash + 1 : self_path;

    const char *old_path = getenv("PATH");
    size_t size = strlen(self_path) + (old_path ? strlen(old_path) : 0) + 3;
    char *new_path = malloc(size);
    if (slash)
        snprintf(new_path, size, "%.*s%s%s", (int)(slash - self_path), self_path, old_path ? ":" : "",
                 old_path ? old_path : "");
    else
        snprintf(new_path, size, ".%s%s", old_path ? ":" : "", old_path ? old_path : "");
    setenv("PATH", new_path, 1);
    free(new_path);

    const char *depth = getenv("MINISHELL_DEPTH");
    char depth_buf[16];
    snprintf(depth_buf, sizeof depth_buf, "%d", depth ? atoi(depth) + 1 : 1);
    setenv("MINISHELL_DEPTH", depth_buf, 1);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strncmp(argv[1], "--", 2) == 0)
        return child_mode(argc, argv);
    setup_environment(argv[0]);

    int status = 0;
    if (argc >= 2) {
        for (int i = 1; i < argc; i++)
            status = run_command(argv[i], i);
    } else {
        char line[4096];
        int index = 0;
        while (fgets(line, sizeof line, stdin)) {
            line[strcspn(line, "\n")] = '\0';
            const char *p = line + strspn(line, " \t");
            if (*p == '\0' || *p == '#')
                continue;
            /* Children get /dev/null as stdin so that they cannot eat the shell's own input. */
            int saved = dup(0);
            int null_fd = open("/dev/null", O_RDONLY);
            dup2(null_fd, 0);
            close(null_fd);
            status = run_command(line, ++index);
            dup2(saved, 0);
            close(saved);
        }
    }
    printf("minishell: done, status %d\n", status);
    return status;
}
