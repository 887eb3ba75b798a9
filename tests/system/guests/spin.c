/* Runs until stopped from outside: counts in a loop (the control-socket tests pause, step and
   quit it). */
#include "bare.h"

int main(void) {
    puts_("spinning\n");
    volatile uint64_t count = 0;
    for (;;) count++;
}
