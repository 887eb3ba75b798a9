"""The kernels' own CSR accesses (ir.csrfile.csr_sys, run here as the plain Python it is) against
the hart's Python side (dbt.runtime.system.hart), which follows the privileged specification
(see test_system_hart.py): for any mode, CSR, access and operand, what csr_sys does itself must
be exactly what the hart does, and what it leaves to Python must leave the state untouched."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dbt.ir import csrfile as c
from dbt.ir.ops import CSR_MODE_CLEAR, CSR_MODE_READ, CSR_MODE_SET, CSR_MODE_WRITE
from dbt.ir.state import IRQ_PENDING, MMU_FETCH, MMU_LOAD, MMU_STORE, STATE_WORDS_SYSTEM
from dbt.runtime.system.hart import MASK64, Hart, Trap

MODES = (CSR_MODE_WRITE, CSR_MODE_SET, CSR_MODE_CLEAR, CSR_MODE_READ)
BITS64 = st.integers(0, MASK64)
INTERESTING = st.sampled_from(
    [c.SIE, c.MIE, c.SUM, c.MXR, c.MPRV, c.MPP, 2 << c.MPP_SHIFT, c.TVM, c.FS, 1, 3]
)


def _hart(priv: int, mstatus: int, satp: int) -> Hart:
    hart = Hart(instret=lambda: 0, mtime=lambda: 0, hartid=3,
                words=np.zeros(STATE_WORDS_SYSTEM, dtype=np.int64))  # fmt: skip
    hart.priv = priv
    hart.mstatus = mstatus
    hart.satp = satp
    for word, access in ((MMU_FETCH, 0), (MMU_LOAD, 1), (MMU_STORE, 2)):
        hart.words[word] = c.mmu_word(priv, hart.mstatus, hart.satp, access)
    return hart


@settings(max_examples=1500, deadline=None)
@given(
    priv=st.sampled_from([c.PRV_U, c.PRV_S, c.PRV_M]),
    csr=st.sampled_from(c.KERNEL_CSRS),
    mode=st.sampled_from(MODES),
    src=st.one_of(BITS64, INTERESTING),
    mstatus=st.one_of(BITS64, INTERESTING),
    satp=st.sampled_from([0, (8 << 60) | (7 << 44) | 0x80123, (9 << 60) | 0x80000]),
    pending=st.sampled_from([0, 1 << 5]),
)
def test_csr_sys_does_what_the_hart_does(priv, csr, mode, src, mstatus, satp, pending):
    kernel = _hart(priv, mstatus, satp)
    kernel.words[IRQ_PENDING] = pending
    python = _hart(priv, kernel.mstatus, satp)
    before = kernel.words.copy()
    operand = src - (1 << 64) if src >> 63 else src
    outcome, old = c.csr_sys(kernel.words, csr, mode, operand)
    if outcome == c.CSR_PYTHON:
        assert np.array_equal(kernel.words, before)
        return
    # The hart's way: read (unless csrrw), then write (unless a read-only access).
    expected_old = python.csr_read(csr, 0)
    if mode != CSR_MODE_READ:
        new = {CSR_MODE_WRITE: src, CSR_MODE_SET: expected_old | src, CSR_MODE_CLEAR: expected_old & ~src}[
            mode
        ]
        python.csr_write(csr, new, 0)
    assert int(old) & MASK64 == expected_old
    assert kernel.mstatus == python.mstatus
    for attribute in ("sscratch", "sepc", "scause", "stval", "mscratch", "mepc", "mcause", "mtval", "satp"):
        assert getattr(kernel, attribute) == getattr(python, attribute), attribute
    # The MMU words follow the new mstatus (or the kernel goes back to Python to redo them).
    for word, access in ((MMU_FETCH, 0), (MMU_LOAD, 1), (MMU_STORE, 2)):
        assert int(kernel.words[word]) == c.mmu_word(priv, python.mstatus, satp, access)
    turned_on = [
        (int(before[w]) == 0) != (int(kernel.words[w]) == 0) for w in (MMU_FETCH, MMU_LOAD, MMU_STORE)
    ]
    enabled = python.mstatus & ~(int(before[c.CSR_MSTATUS]) & MASK64) & (c.SIE | c.MIE)
    assert (outcome == c.CSR_DONE_EXIT) == (any(turned_on) or bool(enabled and pending))


def test_what_csr_sys_leaves_to_python_traps_or_needs_python():
    """Privilege and read-only violations are left to Python (which raises them); so are satp and
    misa writes and an MXR change (a TLB flush)."""
    hart = _hart(c.PRV_S, 0, 0)
    for csr in (c.MSTATUS, c.MSCRATCH, c.MHARTID, c.MISA_CSR):
        assert c.csr_sys(hart.words, csr, CSR_MODE_READ, 0)[0] == c.CSR_PYTHON
        try:
            hart.csr_read(csr, 0)
        except Trap:
            pass
        else:
            raise AssertionError(f"S mode read {csr:#x}")
    assert c.csr_sys(hart.words, c.SATP, CSR_MODE_WRITE, 0)[0] == c.CSR_PYTHON
    assert c.csr_sys(hart.words, c.SSTATUS, CSR_MODE_SET, c.MXR)[0] == c.CSR_PYTHON
    assert c.csr_sys(hart.words, c.SSTATUS, CSR_MODE_SET, c.SUM)[0] == c.CSR_DONE
    user = _hart(c.PRV_U, 0, 0)
    assert c.csr_sys(user.words, c.SSTATUS, CSR_MODE_READ, 0)[0] == c.CSR_PYTHON
    machine = _hart(c.PRV_M, 0, 0)
    assert c.csr_sys(machine.words, c.MHARTID, CSR_MODE_READ, 0) == (c.CSR_DONE, 3)
    assert c.csr_sys(machine.words, c.MHARTID, CSR_MODE_SET, 1)[0] == c.CSR_PYTHON
