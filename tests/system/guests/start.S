/* Reset entry of the bare-metal test programs: a stack, then main(hartid, fdt).
   main's return value powers the machine off through the virt "test" device (0: pass). */
    .section .text.init
    .globl _start
_start:
    la sp, _stack_top
    /* .bss is zero in a fresh machine's RAM: nothing to clear */
    call main
    call poweroff
1:  j 1b
