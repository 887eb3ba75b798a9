/* filter.c: a stdin -> stdout filter.
 *
 * Copies all of stdin to stdout with ASCII letters upper-cased (every other byte, including NUL
 * and bytes >= 0x80, passes through unchanged), then prints line/word/byte counts and a checksum
 * of the input to stderr.  Uses read(2)/write(2) directly with an odd buffer size.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(void)
{
    static unsigned char buf[4093];
    unsigned long long lines = 0, words = 0, bytes = 0, nuls = 0, high = 0;
    uint32_t crc = 0xffffffffu;
    int in_word = 0;
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "filter: read error %d\n", errno);
            return 1;
        }
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            unsigned char c = buf[i];
            crc ^= c;
            for (int k = 0; k < 8; k++)
                crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
            bytes++;
            lines += c == '\n';
            nuls += c == 0;
            high += c >= 0x80;
            int space = c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
            if (!space && !in_word)
                words++;
            in_word = !space;
            if (c >= 'a' && c <= 'z')
                buf[i] = (unsigned char)(c - 'a' + 'A');
        }
        if (write_all(1, buf, (size_t)n) != 0) {
            fprintf(stderr, "filter: write error %d\n", errno);
            return 1;
        }
    }
    fprintf(stderr, "lines %llu words %llu bytes %llu nul %llu high %llu crc32 %08" PRIx32 "\n", lines, words, bytes,
            nuls, high, crc ^ 0xffffffffu);
    return 0;
}
