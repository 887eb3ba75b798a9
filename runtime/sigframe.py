"""The riscv64 Linux signal frame: building it on the guest stack and restoring from it.

Layout (arch/riscv/include/uapi/asm/{ucontext,sigcontext}.h, as glibc's ucontext_t mirrors it):

    struct rt_sigframe { siginfo_t info;         // 128 bytes at +0
                         struct ucontext uc; }   // at +128
    struct ucontext    { u64 uc_flags;           // +0
                         ucontext *uc_link;      // +8
                         stack_t uc_stack;       // +16 (ss_sp, ss_flags, ss_size: 24 bytes)
                         sigset_t uc_sigmask;    // +40, 8 bytes, padded to 128
                         sigcontext uc_mcontext; }  // +176 (16-byte aligned)
    struct sigcontext  { u64 sc_regs[32];        // pc, then x1..x31
                         union { f[32] + fcsr, ... } sc_fpregs; }  // 528 bytes

The handler returns to a trampoline page (`li a7, 139; ecall`: rt_sigreturn), since dbt has no
vDSO to hold the kernel's.
"""

from __future__ import annotations

import struct

from dbt.ir.state import F_BASE, FFLAGS, FRM, PC

INFO_SIZE = 128
UC_OFFSET = INFO_SIZE
UC_STACK = 16
UC_SIGMASK = 40
UC_MCONTEXT = 176
FP_OFFSET = UC_MCONTEXT + 32 * 8
FCSR_OFFSET = FP_OFFSET + 32 * 8
FRAME_SIZE = INFO_SIZE + UC_MCONTEXT + 32 * 8 + 528

#: li a7, 139 (rt_sigreturn); ecall
TRAMPOLINE_CODE = struct.pack("<II", 0x08B00893, 0x00000073)

SA_SIGINFO = 0x4
SA_ONSTACK = 0x08000000
SA_RESTART = 0x10000000
SA_NODEFER = 0x40000000
SA_RESETHAND = 0x80000000
SS_ONSTACK, SS_DISABLE = 1, 2


def _u64(value: int) -> int:
    return value & (1 << 64) - 1


def _i64(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def build_frame(proc, signo: int, info: bytes, handler: int, flags: int, restored_mask: int) -> None:
    """Push a signal frame for `signo` and point the guest at its handler."""
    regs, state = proc.regs, proc.state
    sp = _u64(int(regs[2]))
    alt_sp, alt_flags, alt_size = proc.signals.altstack
    on_altstack = not alt_flags & SS_DISABLE and alt_sp <= sp < alt_sp + alt_size
    if flags & SA_ONSTACK and not alt_flags & SS_DISABLE and not on_altstack:
        sp = alt_sp + alt_size
    frame = (sp - FRAME_SIZE) & ~15
    data = bytearray(FRAME_SIZE)
    data[:INFO_SIZE] = info.ljust(INFO_SIZE, b"\0")[:INFO_SIZE]
    uc = UC_OFFSET
    stack_flags = SS_DISABLE if alt_flags & SS_DISABLE else (SS_ONSTACK if on_altstack else 0)
    struct.pack_into("<QQQiiQ", data, uc, 0, 0, alt_sp, stack_flags, 0, alt_size)
    struct.pack_into("<Q", data, uc + UC_SIGMASK, restored_mask)
    gregs = [_u64(int(state[PC]))] + [_u64(int(regs[i])) for i in range(1, 32)]
    struct.pack_into("<32Q", data, uc + UC_MCONTEXT, *gregs)
    fregs = [_u64(int(regs[F_BASE + i])) for i in range(32)]
    struct.pack_into("<32Q", data, uc + FP_OFFSET, *fregs)
    struct.pack_into("<I", data, uc + FCSR_OFFSET, int(state[FRM]) << 5 | int(state[FFLAGS]))
    proc.memory.write_slice(frame, bytes(data))
    regs[10] = signo
    regs[11] = frame
    regs[12] = frame + UC_OFFSET
    regs[2] = frame
    regs[1] = proc.sigtramp
    state[PC] = handler


def restore_frame(proc) -> int:
    """rt_sigreturn: reload registers, pc, fcsr and the signal mask from the frame at sp;
    returns the restored mask."""
    regs, state = proc.regs, proc.state
    frame = _u64(int(regs[2]))
    uc = frame + UC_OFFSET
    data = proc.memory.read_slice(uc, FRAME_SIZE - UC_OFFSET)
    alt_sp, alt_flags, _, alt_size = struct.unpack_from("<QiiQ", data, UC_STACK)
    mask = struct.unpack_from("<Q", data, UC_SIGMASK)[0]
    gregs = struct.unpack_from("<32Q", data, UC_MCONTEXT)
    fregs = struct.unpack_from("<32Q", data, FP_OFFSET)
    fcsr = struct.unpack_from("<I", data, FCSR_OFFSET)[0]
    state[PC] = _i64(gregs[0])
    for i in range(1, 32):
        regs[i] = _i64(gregs[i])
    for i in range(32):
        regs[F_BASE + i] = _i64(fregs[i])
    state[FFLAGS] = fcsr & 0x1F
    state[FRM] = (fcsr >> 5) & 7
    if not alt_flags & SS_ONSTACK:
        proc.signals.altstack = (alt_sp, alt_flags & SS_DISABLE, alt_size)
    return mask


def siginfo(signo: int, code: int = 0, pid: int = 0, uid: int = 0, addr: int | None = None) -> bytes:
    """A siginfo_t: kill-style (pid, uid) or fault-style (addr)."""
    head = struct.pack("<iii4x", signo, 0, code)
    if addr is not None:
        return head + struct.pack("<Q", _u64(addr))
    return head + struct.pack("<iI", pid, uid)
