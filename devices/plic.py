"""The PLIC of QEMU's virt machine: source priorities, pending bits, and per context (0: the
hart's M mode, 1: its S mode) enables, a threshold and claim/complete.
Stage: devices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SOURCES = 97  # source 0 does not exist; QEMU virt has 1..96
CONTEXTS = 2
PRIORITY_BASE, PENDING_BASE, ENABLE_BASE, ENABLE_STRIDE = 0x0, 0x1000, 0x2000, 0x80
CONTEXT_BASE, CONTEXT_STRIDE = 0x200000, 0x1000
PLIC_SIZE = 0x600000  # as QEMU virt maps it (room for more contexts than one hart has)
PRIORITY_MASK = 7


@dataclass
class Plic:
    name: str = "plic"
    priority: list[int] = field(default_factory=lambda: [0] * SOURCES)
    #: Interrupt lines' levels as the devices drive them.
    level: list[bool] = field(default_factory=lambda: [False] * SOURCES)
    pending: list[bool] = field(default_factory=lambda: [False] * SOURCES)
    claimed: list[bool] = field(default_factory=lambda: [False] * SOURCES)
    enable: list[int] = field(default_factory=lambda: [0] * CONTEXTS)  # bit n: source n
    threshold: list[int] = field(default_factory=lambda: [0] * CONTEXTS)

    #: Sources that are pending or claimed, in ascending order (what _best looks at).
    raised: list[int] = field(default_factory=list)

    def _track(self, source: int) -> None:
        active = self.pending[source] or self.claimed[source]
        if active and source not in self.raised:
            self.raised = sorted([*self.raised, source])
        elif not active and source in self.raised:
            self.raised = [s for s in self.raised if s != source]

    def settled(self, source: int, high: bool) -> bool:
        """Whether set_level(source, high) would change nothing."""
        return self.level[source] == high and (not high or self.pending[source] or self.claimed[source])

    def set_level(self, source: int, high: bool) -> None:
        """A device's interrupt line (level-triggered: pending while high and not claimed)."""
        if self.settled(source, high):
            return
        self.level[source] = high
        if high and not self.claimed[source]:
            self.pending[source] = True
        elif not high:
            self.pending[source] = False
        self._track(source)

    def _best(self, context: int) -> int:
        """The pending, enabled source of highest priority above the threshold (ties: the lowest
        number); 0 if none. Only the few raised lines are looked at (this runs on every exit)."""
        best, best_priority = 0, self.threshold[context]
        enabled = self.enable[context]
        for source in self.raised:
            if self.pending[source] and enabled >> source & 1 and self.priority[source] > best_priority:
                best, best_priority = source, self.priority[source]
        return best

    def output(self, context: int) -> bool:
        """Whether the context's external interrupt (MEIP for 0, SEIP for 1) is raised."""
        return self._best(context) != 0

    def read(self, offset: int, size: int) -> int:
        if offset < PENDING_BASE:
            source = offset // 4
            return self.priority[source] if source < SOURCES else 0
        if offset < ENABLE_BASE:
            word = (offset - PENDING_BASE) // 4
            return sum(1 << i for i in range(32) if 32 * word + i < SOURCES and self.pending[32 * word + i])
        if offset < CONTEXT_BASE:
            context, byte = divmod(offset - ENABLE_BASE, ENABLE_STRIDE)
            if context >= CONTEXTS:
                return 0
            return (self.enable[context] >> (8 * byte)) & 0xFFFFFFFF
        context, register = divmod(offset - CONTEXT_BASE, CONTEXT_STRIDE)
        if context >= CONTEXTS:
            return 0
        if register == 0:
            return self.threshold[context]
        if register == 4:  # claim
            source = self._best(context)
            if source:
                self.pending[source] = False
                self.claimed[source] = True
                self._track(source)
            return source
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        value &= 0xFFFFFFFF
        if offset < PENDING_BASE:
            source = offset // 4
            if 0 < source < SOURCES:
                self.priority[source] = value & PRIORITY_MASK
        elif ENABLE_BASE <= offset < CONTEXT_BASE:
            context, byte = divmod(offset - ENABLE_BASE, ENABLE_STRIDE)
            if context < CONTEXTS and 8 * byte < SOURCES:
                shift = 8 * byte
                bits = value & ~1 if byte == 0 else value  # source 0 does not exist
                old = self.enable[context] & ~(0xFFFFFFFF << shift)
                self.enable[context] = old | (bits << shift) & ((1 << SOURCES) - 1)
        elif offset >= CONTEXT_BASE:
            context, register = divmod(offset - CONTEXT_BASE, CONTEXT_STRIDE)
            if context >= CONTEXTS:
                return
            if register == 0:
                self.threshold[context] = value & PRIORITY_MASK
            elif register == 4 and 0 < value < SOURCES:  # complete
                self.claimed[value] = False
                if self.level[value]:
                    self.pending[value] = True
                self._track(value)
