/* Trap vectors of traps.c for M and S mode. Each records cause, tval, epc and the mode the
   trap came from in `trap_log` (struct record: cause, tval, epc, from, level), then:
   - an ebreak with a7 == 0x4d ("M") returns to the instruction after it in M mode;
   - an interrupt is silenced (M timer: mtimecmp = -1; M soft: msip = 0; S soft: SSIP
     cleared; S timer: stimecmp = -1);
   - an instruction fetch fault (access or page fault) returns to ra (a call of a function that
     cannot run returns at once);
   - any other exception skips the instruction (2 or 4 bytes) and returns. */
    .equ RECORD, 40
    .equ MAGIC, 0x4d

    .section .text
    .balign 4
    .globl m_vector
m_vector:
    csrrw sp, mscratch, sp          /* the trap stack (t0..t2 saved below its top) */
    sd t0, -8(sp)
    sd t1, -16(sp)
    sd t2, -24(sp)
    la t0, trap_count
    ld t1, 0(t0)
    addi t2, t1, 1
    sd t2, 0(t0)
    li t2, RECORD
    mul t1, t1, t2
    la t0, trap_log
    add t0, t0, t1
    csrr t1, mcause
    sd t1, 0(t0)
    csrr t1, mtval
    sd t1, 8(t0)
    csrr t1, mepc
    sd t1, 16(t0)
    csrr t1, mstatus
    srli t1, t1, 11
    andi t1, t1, 3
    sd t1, 24(t0)
    li t1, 3
    sd t1, 32(t0)
    csrr t1, mcause
    bltz t1, m_interrupt
    li t2, 3
    bne t1, t2, m_skip
    li t2, MAGIC
    bne a7, t2, m_skip
    li t1, 3 << 11                  /* back to M mode after the ebreak */
    csrs mstatus, t1
m_skip:
    li t2, 1
    beq t1, t2, m_to_ra
    li t2, 12
    beq t1, t2, m_to_ra
    csrr t1, mepc
    lhu t2, 0(t1)
    andi t2, t2, 3
    addi t1, t1, 2
    li t0, 3
    bne t2, t0, 1f
    addi t1, t1, 2
1:  csrw mepc, t1
    j m_out
m_to_ra:
    csrw mepc, ra
    j m_out
m_interrupt:
    slli t1, t1, 1
    srli t1, t1, 1
    li t2, 7
    bne t1, t2, 2f
    li t0, 0x2004000                /* mtimecmp = -1 */
    li t2, -1
    sd t2, 0(t0)
    j m_out
2:  li t2, 3
    bne t1, t2, m_out
    li t0, 0x2000000                /* msip = 0 */
    sw zero, 0(t0)
m_out:
    ld t0, -8(sp)
    ld t1, -16(sp)
    ld t2, -24(sp)
    csrrw sp, mscratch, sp
    mret

    .balign 4
    .globl s_vector
s_vector:
    csrrw sp, sscratch, sp
    sd t0, -8(sp)
    sd t1, -16(sp)
    sd t2, -24(sp)
    la t0, trap_count
    ld t1, 0(t0)
    addi t2, t1, 1
    sd t2, 0(t0)
    li t2, RECORD
    mul t1, t1, t2
    la t0, trap_log
    add t0, t0, t1
    csrr t1, scause
    sd t1, 0(t0)
    csrr t1, stval
    sd t1, 8(t0)
    csrr t1, sepc
    sd t1, 16(t0)
    csrr t1, sstatus
    srli t1, t1, 8
    andi t1, t1, 1
    sd t1, 24(t0)
    li t1, 1
    sd t1, 32(t0)
    csrr t1, scause
    bltz t1, s_interrupt
    csrr t1, sepc
    lhu t2, 0(t1)
    andi t2, t2, 3
    addi t1, t1, 2
    li t0, 3
    bne t2, t0, 1f
    addi t1, t1, 2
1:  csrw sepc, t1
    j s_out
s_interrupt:
    slli t1, t1, 1
    srli t1, t1, 1
    li t2, 5
    bne t1, t2, 2f
    li t2, -1
    csrw 0x14d, t2                  /* stimecmp = -1 */
    j s_out
2:  li t2, 2
    csrc sip, t2                    /* SSIP */
s_out:
    ld t0, -8(sp)
    ld t1, -16(sp)
    ld t2, -24(sp)
    csrrw sp, sscratch, sp
    sret
