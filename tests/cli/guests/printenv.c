/* printenv.c: print the arguments (argv[0] included) and then the whole environment, one per line.
 *
 *   argv[0]=...
 *   argv[1]=...
 *   env=NAME=VALUE
 *
 * Built by tests/cli/test_cli.py (the shared guests in tests/guests print neither argv[0] nor the
 * environment as a whole).
 */
#include <stdio.h>

extern char **environ;

int main(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    for (char **e = environ; *e; e++)
        printf("env=%s\n", *e);
    return 0;
}
