/* hwprobe.c: prints what riscv_hwprobe (system call 258) answers for keys 0..15 and AT_HWCAP,
 * one "name value" line each, so a translator's answers can be compared with a reference's. An
 * unknown key comes back as key -1 (Linux's rule), printed as "key K unknown". */
#include <stdint.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

struct pair {
    int64_t key;
    uint64_t value;
};

int main(void)
{
    struct pair pairs[16];
    for (int i = 0; i < 16; i++) {
        pairs[i].key = i;
        pairs[i].value = 0xdeadbeef;
    }
    long rc = syscall(258, pairs, 16, 0, NULL, 0);
    printf("hwprobe returned %ld\n", rc);
    for (int i = 0; i < 16; i++) {
        if (pairs[i].key == -1)
            printf("key %d unknown\n", i);
        else
            printf("key %d = %#llx\n", (int)pairs[i].key, (unsigned long long)pairs[i].value);
    }
    /* One key alone (the kernel answers each pair independently). */
    struct pair one = {4, 0};
    rc = syscall(258, &one, 1, 0, NULL, 0);
    printf("single key 4: returned %ld value %#llx\n", rc, (unsigned long long)one.value);
    printf("AT_HWCAP = %#lx\n", getauxval(AT_HWCAP));
    return 0;
}
