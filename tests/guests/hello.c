/* hello.c: the small example guest from the README. */
#include <stdio.h>

int main(int argc, char **argv)
{
    printf("Hello from RISC-V!\n");
    printf("argc = %d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d] = %s\n", i, i == 0 ? "(program)" : argv[i]);
    return 0;
}
