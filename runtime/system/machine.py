"""The virt machine of system mode: physical memory laid out as QEMU's virt machine lays it out,
one hart, the devices, the event loop, and the vCPU loop that runs the same kernels as user mode
(interpreter and JIT) and finishes in Python what they hand back: privileged instructions, traps,
MMIO accesses and interrupts.

The kernels' addresses are physical (RAM at 0x80000000 and the boot ROM have page permissions;
every other address faults out of the kernel and reaches the device service), after the
kernels' TLB look-up when satp translates (softmmu.py).
Stage: runtime (system mode).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import numpy as np

from dbt.config import Config
from dbt.devices.bus import Bus
from dbt.devices.clint import CLINT_SIZE, NEVER, TIMEBASE_HZ, Clint
from dbt.devices.fdt import Layout, build_dtb
from dbt.devices.finisher import FINISHER_SIZE, Finisher, PowerOff, Reset
from dbt.devices.htif import Htif
from dbt.devices.plic import PLIC_SIZE, SOURCES, Plic
from dbt.devices.service import FLUSH_DELAY_NS, UART_IRQ, Console, DeviceService, QuitRequest
from dbt.devices.uart import Uart16550
from dbt.devices.virtio import VIRTIO_MMIO_SIZE, VirtioMmio
from dbt.devices.virtio_blk import RawImage, VirtioBlk, VirtioRng
from dbt.errors import VmError
from dbt.frontends.riscv64.cpu import parse_cpu, system_rows
from dbt.frontends.riscv64.translate import FetchFault
from dbt.ir.state import (
    EXIT_CSR,
    EXIT_FAULT,
    EXIT_FENCE_I,
    EXIT_HOT,
    EXIT_MISS,
    EXIT_OP,
    EXIT_SLICE,
    EXIT_SYSCALL,
    EXIT_TRAP,
    FAULT_ADDR,
    FAULT_KIND,
    FAULT_LOAD,
    FAULT_MISALIGNED,
    FAULT_STORE,
    FAULT_TLB_LOAD,
    FAULT_TLB_STORE,
    IC_SITE,
    INSTRET,
    IRQ_PENDING,
    JIT_THRESHOLD,
    MMU_LOAD,
    MMU_STORE,
    NUM_SLOTS,
    PAGE_SHIFT,
    PAGE_SIZE,
    PC,
    PERM_X,
    RESERVATION,
    SINK,
    SLICE_END,
    STATE_WORDS_SYSTEM,
    TRAP_BREAKPOINT,
    TRAP_ILLEGAL,
)
from dbt.runtime.blockcache import BlockCache
from dbt.runtime.decodecache import DecodeCache, cache_path, decoder_identity
from dbt.runtime.int64 import to_int64
from dbt.runtime.memory import PROT_EXEC, PROT_READ, PROT_WRITE, GuestMemory
from dbt.runtime.system import images
from dbt.runtime.system.codepages import CodePages
from dbt.runtime.system.events import EventLoop, TimerEvent
from dbt.runtime.system.hart import (
    CAUSE_BREAKPOINT,
    CAUSE_ECALL_M,
    CAUSE_ECALL_S,
    CAUSE_ECALL_U,
    CAUSE_FETCH_ACCESS,
    CAUSE_ILLEGAL,
    CAUSE_LOAD_ACCESS,
    CAUSE_LOAD_MISALIGNED,
    CAUSE_STORE_ACCESS,
    CAUSE_STORE_MISALIGNED,
    MASK64,
    STIMECMP,
    Hart,
    Trap,
    illegal,
)
from dbt.runtime.system.kernelclock import KernelClock
from dbt.runtime.system.mmio import Access, decode_access
from dbt.runtime.system.softmmu import SoftMmu

log = logging.getLogger("dbt.system")

RAM_BASE = 0x8000_0000
ROM_BASE, ROM_SIZE = 0x1000, 0xF000
FINISHER_BASE = 0x10_0000
CLINT_BASE = 0x200_0000
PLIC_BASE = 0xC00_0000
UART_BASE, UART_SIZE = 0x1000_0000, 0x100
VIRTIO_BASE, VIRTIO_SLOTS, VIRTIO_IRQ = 0x1000_1000, 8, 1
FW_DYNAMIC_MAGIC, FW_DYNAMIC_VERSION = 0x4942534F, 2
NEXT_MODE_S = 1
ISA_STRING = "rv64imafdc_zicsr_zifencei_sstc"
#: Instruction budget bounds for one kernel call: small enough to see a timer soon after its
#: deadline, large enough that the call's fixed cost does not matter.
MIN_SLICE, MAX_SLICE = 1_000, 4_000_000
#: How long the vCPU may go on after device accesses before the loop takes a turn (see
#: SystemMachine._device_access).
TURN_NS = 2_000_000
MRET, SRET = 0x30200073, 0x10200073
ECALL_CAUSE = {0: CAUSE_ECALL_U, 1: CAUSE_ECALL_S, 3: CAUSE_ECALL_M}


@dataclass(frozen=True)
class MachineConfig:
    """What `dbt system` builds."""

    ram_size: int = 128 << 20
    #: "default" (Debian's OpenSBI fw_dynamic), a path, or None (the kernel runs in M mode).
    bios: str | None = "default"
    kernel: str | None = None
    initrd: str | None = None
    append: str = ""
    #: Disk images for virtio-blk: (path, read-only).
    drives: tuple[tuple[str, bool], ...] = ()
    #: An ISO 9660 image attached read-only after the drives (QEMU virt's -cdrom: virtio-blk).
    cdrom: str | None = None
    #: Extra devices: "virtio-rng-device".
    devices: tuple[str, ...] = ()
    #: Network backends (--netdev), each behind a virtio-net device after the disks.
    netdevs: tuple[str, ...] = ()


class SystemMachine:
    """A virt machine with one hart. `run()` runs it until it powers off."""

    def __init__(self, machine: MachineConfig, config: Config, console: Console) -> None:
        if machine.ram_size < 16 << 20 or machine.ram_size % PAGE_SIZE:
            raise VmError("-m: RAM must be at least 16 MiB and a whole number of pages")
        self.machine = machine
        self.config = config
        self.ram_base = RAM_BASE
        self.cpu = parse_cpu(config.cpu)
        self.rows = system_rows(self.cpu)
        self.memory = GuestMemory(RAM_BASE + machine.ram_size)
        self.memory.map(RAM_BASE, machine.ram_size, PROT_READ | PROT_WRITE | PROT_EXEC, name="ram")
        self.memory.map(ROM_BASE, ROM_SIZE, PROT_READ | PROT_EXEC, name="mrom")
        self.regs = np.zeros(NUM_SLOTS, dtype=np.int64)
        self.state = np.zeros(STATE_WORDS_SYSTEM, dtype=np.int64)
        self.state[RESERVATION] = -1
        # Sized for a Linux boot's 70,000 blocks: growing the hash table rehashes in Python.
        self.cache = BlockCache(op_capacity=1 << 20, block_capacity=1 << 17, table_size=1 << 18)
        #: Lifted blocks by their bytes, kept across fence.i and (in a file) across runs.
        self._decoder_identity = decoder_identity(config.max_block_insns, self.rows).encode()
        self.decoded = DecodeCache(
            config.max_block_insns,
            self.rows,
            None if config.no_cache else cache_path(config.max_block_insns, self.rows, self._image_files()),
        )
        self.loop = EventLoop()
        self.t0_ns = time.monotonic_ns()
        self.clint = Clint(now=lambda: (time.monotonic_ns() - self.t0_ns) // (1_000_000_000 // TIMEBASE_HZ))
        self.hart = Hart(
            instret=lambda: int(self.state[INSTRET]), mtime=lambda: self.clint.mtime, words=self.state
        )
        self.clock = KernelClock(self.state, self.hart, self.t0_ns, 1_000_000_000 // TIMEBASE_HZ)
        self.softmmu = SoftMmu(self.hart, self.memory, self.state, self.cache)
        self.code_pages = CodePages(self.memory, self.cache)
        self.plic = Plic()
        self.console = console
        self.uart = Uart16550(transmit=console.transmit)
        self.bus = Bus()
        self.bus.attach(FINISHER_BASE, FINISHER_SIZE, Finisher())
        self.bus.attach(CLINT_BASE, CLINT_SIZE, self.clint)
        self.bus.attach(PLIC_BASE, PLIC_SIZE, self.plic)
        self.bus.attach(UART_BASE, UART_SIZE, self.uart)
        self.devices = DeviceService(
            self.bus,
            self.clint,
            self.plic,
            self.uart,
            console,
            self._set_device_mip,
            self.loop.call_at,
            self.t0_ns,
            self.memory,
        )
        self._attach_virtio()
        if console.in_fd is not None:
            try:
                self.loop.add_reader(console.in_fd, self._console_readable)
            except PermissionError:  # a regular file (or /dev/null): always readable, read it now
                while self.devices.console_readable():
                    pass
        self.kernel = None
        self.jit = None
        self.exit_code: int | None = None
        #: Set by the runtime service's stop command: run() returns at its next turn.
        self.stop_requested = False
        self._rate = 50e6  # guest instructions per second, measured as it runs
        self._turn_ns = 0  # when the vCPU loop last took a turn (see _device_access)
        #: (virtual, physical) pages whose blocks _fill_page has entered since the last flush.
        self._filled_pages: set[tuple[int, int]] = set()
        self.cache.on_flush.append(self._forget_filled_pages)
        #: Synchronous exceptions and interrupts taken (by _service).
        self.traps = 0
        #: The word at pc of the trap exit _refilled looked at and left to _service.
        self._trap_word: int | None = None
        self._boot()
        from dbt.runtime.system import snapshot

        #: The power-on state of the hart and devices, which a reset puts back.
        self._power_on = snapshot.capture(self, ram=False)
        self.resets = 0

    # ---- building the machine ----
    def _image_files(self) -> tuple[str | None, ...]:
        """The files the guest's code comes from (naming its decoded-block cache file)."""
        m = self.machine
        bios = m.bios
        if bios == "default":
            bios = os.path.join(images.OPENSBI_DIR, "fw_dynamic.bin")
        return (bios, m.kernel, m.initrd)

    def _boot(self) -> None:
        symbols = self._load_images()
        if "tohost" in symbols:
            self._attach_htif(symbols["tohost"], symbols.get("fromhost"))
        self.state[PC] = ROM_BASE

    def _load_images(self) -> dict:
        """Firmware, kernel, initrd, device tree and reset vector into memory, as at power-on
        and at every reset (QEMU's ROM blobs). Returns the symbols of the program that runs."""
        m = self.machine
        ram = (RAM_BASE, RAM_BASE + m.ram_size)
        if m.bios is None and m.kernel is None:
            raise VmError("nothing to run: give --kernel FILE with --bios none")
        next_addr = start = RAM_BASE
        symbols: dict = {}
        if m.bios is not None:
            path = images.default_bios() if m.bios == "default" else m.bios
            firmware = images.load_image(self.memory, path, "firmware", RAM_BASE, ram)
            start = firmware.entry
            next_addr = images.kernel_start(firmware.end)
            symbols = firmware.symbols
        kernel_entry = next_addr
        if m.kernel is not None:
            kernel = images.load_image(self.memory, m.kernel, "kernel", next_addr, ram)
            kernel_entry = kernel.entry
            symbols = kernel.symbols or symbols
            if m.bios is None:
                start = kernel.entry
        initrd = None
        if m.initrd is not None:
            data = images.read_file(m.initrd, "initrd")
            base = images.initrd_start(kernel_entry, m.ram_size)
            if base + len(data) > ram[1]:
                raise VmError(f"the initrd {m.initrd} does not fit in RAM: give more memory with -m")
            self.memory.poke(base, data)
            initrd = (base, base + len(data))
        dtb = build_dtb(self._layout(initrd))
        self.fdt_address = images.fdt_address(RAM_BASE, m.ram_size, len(dtb))
        self.memory.poke(self.fdt_address, dtb)
        self._write_reset_vector(start, kernel_entry)
        return symbols

    def _attach_virtio(self) -> None:
        """QEMU virt's eight VirtIO-MMIO slots; devices take them from the highest down, as
        QEMU plugs them."""
        drives = list(self.machine.drives)
        if self.machine.cdrom is not None:
            from dbt.runtime.system.iso9660 import check_iso

            check_iso(self.machine.cdrom)
            drives.append((self.machine.cdrom, True))
        models: list = [VirtioBlk(RawImage.open(path, readonly)) for path, readonly in drives]
        for index, text in enumerate(self.machine.netdevs):
            from dbt.devices.netdev import open_backend
            from dbt.devices.virtio_net import DEFAULT_MAC, VirtioNet

            mac = DEFAULT_MAC[:5] + bytes([DEFAULT_MAC[5] + index])  # QEMU counts NICs up
            models.append(VirtioNet(open_backend(text, self.loop.clock), mac))
        for name in self.machine.devices:
            if name != "virtio-rng-device":
                raise VmError(f"unknown device {name!r} (known: virtio-rng-device)")
            models.append(VirtioRng())
        if len(models) > VIRTIO_SLOTS:
            raise VmError(f"at most {VIRTIO_SLOTS} VirtIO devices")
        self.virtio_models = list(models)
        for slot in reversed(range(VIRTIO_SLOTS)):
            model = models.pop(0) if models else None
            transport = VirtioMmio(model, name=f"virtio{slot}")
            self.bus.attach(VIRTIO_BASE + slot * VIRTIO_MMIO_SIZE, VIRTIO_MMIO_SIZE, transport)
            self.devices.virtio.append((transport, VIRTIO_IRQ + slot))
            if model is not None and hasattr(model, "backend"):
                self._watch_backend(transport)

    def _watch_backend(self, transport: VirtioMmio) -> None:
        fd = transport.model.backend.fileno()

        def readable() -> None:
            if not self.devices.net_readable(transport, 0):
                self.loop.remove_reader(fd)

        self.loop.add_reader(fd, readable)
        backend = transport.model.backend
        if hasattr(backend, "next_deadline"):  # a backend with timers of its own (user)
            armed: list[TimerEvent] = []  # the one wake-up set for it, if any

            def due() -> None:
                armed.clear()
                readable()
                reschedule()

            def reschedule() -> None:
                deadline = backend.next_deadline()
                if armed and deadline is not None and armed[0].deadline_ns <= deadline:
                    return  # an earlier wake-up is set; it re-arms
                for event in armed:
                    event.cancel()
                armed.clear()
                if deadline is not None:
                    armed.append(self.loop.call_at(deadline, due))

            backend.timers_changed = reschedule
            reschedule()

    def _layout(self, initrd: tuple[int, int] | None) -> Layout:
        return Layout(
            ram_base=RAM_BASE,
            ram_size=self.machine.ram_size,
            isa=ISA_STRING,
            mmu_type="riscv,sv48",  # as QEMU 7.2 says (satp takes Sv57 too, as QEMU's does)
            timebase_hz=TIMEBASE_HZ,
            clint=(CLINT_BASE, CLINT_SIZE),
            plic=(PLIC_BASE, PLIC_SIZE),
            plic_sources=SOURCES,
            uart=(UART_BASE, UART_SIZE),
            uart_irq=UART_IRQ,
            finisher=(FINISHER_BASE, FINISHER_SIZE),
            bootargs=self.machine.append,
            initrd=initrd,
            virtio=tuple(
                (VIRTIO_BASE + i * VIRTIO_MMIO_SIZE, VIRTIO_MMIO_SIZE, VIRTIO_IRQ + i)
                for i in range(VIRTIO_SLOTS)
            ),
        )

    def _write_reset_vector(self, start: int, next_addr: int) -> None:
        """QEMU virt's boot ROM: a0 = hart id, a1 = the device tree, a2 = OpenSBI's
        fw_dynamic_info (next stage at next_addr in S mode), then a jump to `start`."""
        code = [0x00000297, 0x02828613, 0xF1402573, 0x0202B583, 0x0182B283, 0x00028067]
        rom = b"".join(word.to_bytes(4, "little") for word in code)
        rom += start.to_bytes(8, "little") + self.fdt_address.to_bytes(8, "little")
        for word in (FW_DYNAMIC_MAGIC, FW_DYNAMIC_VERSION, next_addr, NEXT_MODE_S, 0, 0):
            rom += word.to_bytes(8, "little")
        self.memory.poke(ROM_BASE, rom)

    def _attach_htif(self, tohost: int, fromhost: int | None) -> None:
        """The page of tohost becomes MMIO, so the program's write to it is seen."""
        page = tohost & ~(PAGE_SIZE - 1)
        if fromhost is not None and fromhost & ~(PAGE_SIZE - 1) != page:
            fromhost = None
        contents = bytearray(self.memory.ram[page : page + PAGE_SIZE].tobytes())
        self.memory.map(page, PAGE_SIZE, 0, name="htif")  # no access: every access faults to the bus
        htif = Htif(
            self.console.transmit, tohost - page, None if fromhost is None else fromhost - page, contents
        )
        self.bus.attach(page, PAGE_SIZE, htif)

    def set_kernel(self, kernel) -> None:
        self.kernel = kernel
        if not self.config.no_jit:
            from dbt.runtime.jit import JitManager

            self.jit = JitManager(self.config, self.cache, self.state, system=True)
            self.jit.page_identity = self._code_page_identity
            self.cache.region_for = self.jit.address_for
            self.cache.on_flush.append(self.jit.flush)

    def _code_page_identity(self, phys: int) -> bytes | None:
        """The identity of the code decoded from phys's page (CodePages.digest) and the decoder."""
        digest = self.code_pages.digest(phys >> PAGE_SHIFT)
        return None if digest is None else digest + self._decoder_identity

    # ---- device glue ----
    def _set_device_mip(self, bits: int) -> None:
        self.hart.mip_hw = bits

    def _console_readable(self) -> None:
        if not self.devices.console_readable():
            self.loop.remove_reader(self.console.in_fd)  # end of input: the guest reads nothing more

    # ---- running ----
    @property
    def instructions(self) -> int:
        return int(self.state[INSTRET])

    def run(self, max_instructions: int | None = None, should_stop=None, paused=None) -> int | None:
        """Run until the machine powers off (returns the exit status) or, with
        `max_instructions`, until about that many more have retired (returns None). The
        runtime service passes `should_stop()` (return None at once) and `paused()` (the vCPU
        waits while the event loop goes on)."""
        assert self.kernel is not None, "set_kernel first"
        state, hart = self.state, self.hart
        stop_at = None if max_instructions is None else int(state[INSTRET]) + max_instructions
        args = None
        version = -1
        state[JIT_THRESHOLD] = -1 if self.jit is None else self.jit.threshold
        started_ns, started_insns = time.monotonic_ns(), int(state[INSTRET])
        try:
            while True:
                self.loop.poll()
                self.console.flush_due(time.monotonic_ns())
                if should_stop is not None and should_stop():
                    return None
                if paused is not None and paused():
                    self.console.flush()
                    self.loop.poll(wait=True, limit_ns=100_000_000)
                    continue
                self.devices.update_interrupts()
                # What the kernels see until they return (a write enabling these exits at once).
                state[IRQ_PENDING] = hart.mip & hart.mie
                irq = hart.pending_interrupt()
                if irq is not None:
                    state[PC] = to_int64(hart.take_trap(int(state[PC]), irq, 0, interrupt=True))
                elif hart.waiting:
                    if hart.wakes():
                        hart.waiting = False
                    else:
                        self.console.flush()
                        self.loop.poll(wait=True, limit_ns=None if self.loop.has_readers else 1_000_000_000)
                        continue
                if stop_at is not None and state[INSTRET] >= stop_at:
                    return None
                if self.cache.version != version:
                    version = self.cache.version
                    arrays = (self.cache.code, self.cache.blocks, self.cache.keys, self.cache.values)
                    args = self.kernel.arguments(self.regs, state, self.memory.ram, self.memory.perm, *arrays)
                    state[IC_SITE] = 0
                budget = self._budget()
                if stop_at is not None:
                    budget = max(min(budget, stop_at - int(state[INSTRET])), 1)
                state[SLICE_END] = state[INSTRET] + budget
                self.softmmu.sync()
                self._turn_ns = time.monotonic_ns()
                reason = self._enter_kernel(args)
                try:
                    # A TLB miss or a block to decode goes straight back into the kernel
                    # (nothing else can have changed): under translation these are most exits.
                    while (refilled := self._refilled(reason, version)) is not None:
                        if not refilled:
                            reason = EXIT_SLICE  # serviced: nothing is left for _service below
                            break
                        reason = self._enter_kernel(args)
                    if self.jit is not None:
                        self.jit.poll()
                        self.jit.tick(int(state[INSTRET]))
                    self._service(reason)
                except Reset:
                    self.reset()
                elapsed = time.monotonic_ns() - started_ns
                if elapsed > 50_000_000:
                    self._rate = max((int(state[INSTRET]) - started_insns) * 1e9 / elapsed, 1e6)
        except PowerOff as off:
            self.exit_code = off.code & 0xFF
        except QuitRequest:
            self.exit_code = 0
        finally:
            self.console.flush()
        return self.exit_code

    def _enter_kernel(self, args: tuple) -> int:
        """Run the kernels until they hand back an exit reason."""
        now = self.clock.enter(self.clint.offset)
        reason = self.kernel.raw(*args)
        self.clock.left(now)
        self.regs[SINK] = 0
        # An exit's inline cache still to fill holds the translation its pc had: Python may
        # change it (a trap, an satp write) before the dispatcher would fill it.
        self.state[IC_SITE] = 0
        return reason

    def reset(self) -> None:
        """A system reset as QEMU 7.2's virt does it: the devices go back to their power-on
        registers (mtime to 0, as the ACLINT specification says; mtimecmp is kept, being
        unknown after a reset), the images are loaded again and the rest of RAM is kept; the
        hart restarts at the reset vector in M mode with mstatus.MIE and MPRV clear and mcause
        0, its other CSRs and registers as they were (the privileged specification leaves them
        unspecified). instret goes on counting: dbt's budgets are measured in it."""
        from dbt.runtime.system import snapshot

        meta, arrays = self._power_on
        mtimecmp = self.clint.mtimecmp
        snapshot.restore(self, meta, arrays, devices_only=True)
        self.clint.mtimecmp = mtimecmp
        self.clint.offset = 0
        self.clint.offset = -self.clint.mtime & MASK64
        self.devices.rearm("mtimecmp", mtimecmp)
        self.hart.reset()
        self.softmmu.flush()
        self.state[PC] = ROM_BASE
        self.state[RESERVATION] = -1
        self._load_images()
        self.cache.flush()  # the images are written again (without lifting any write protection)
        self.resets += 1
        log.info("machine reset")

    def _budget(self) -> int:
        deadline = self.loop.next_deadline()
        if self.console.output:  # back in time to write it (Console.flush_due)
            flush_at = self.console.since_ns + FLUSH_DELAY_NS
            deadline = flush_at if deadline is None else min(deadline, flush_at)
        if deadline is None:
            return MAX_SLICE
        seconds = max(deadline - time.monotonic_ns(), 0) / 1e9
        return int(min(max(self._rate * seconds, MIN_SLICE), MAX_SLICE))

    # ---- what the kernels hand back ----
    def _service(self, reason: int, word: int | None = None) -> None:
        """Finish what the kernel handed back (`word`: the instruction at pc, if already
        fetched)."""
        state = self.state
        pc = int(state[PC]) & MASK64
        try:
            if reason == EXIT_MISS:
                self._translate(int(state[PC]))
            elif reason == EXIT_SYSCALL:
                raise Trap(ECALL_CAUSE[self.hart.priv])
            elif reason == EXIT_FAULT:
                self._memory_fault(pc)
            elif reason == EXIT_TRAP:
                if state[FAULT_KIND] == TRAP_BREAKPOINT:
                    raise Trap(CAUSE_BREAKPOINT, 0)  # tval 0, as QEMU (the spec allows 0 or the pc)
                if word is None and self._trap_word is not None:
                    word = self._trap_word  # fetched by _refilled just now
                self._trap_word = None
                self._privileged(pc, word)
            elif reason == EXIT_FENCE_I:
                changed = self.code_pages.fence_i(self.softmmu.take_straddlers())
                if changed:  # their blocks are gone: fill them again at their next miss
                    gone = set(changed)
                    self._filled_pages = {pages for pages in self._filled_pages if pages[1] not in gone}
                if changed and self.jit is not None:
                    self.jit.drop_pages(changed)
                self._advance(4)
            elif reason == EXIT_CSR:
                self._counter(pc)
            elif reason == EXIT_HOT:
                if self.jit is not None:
                    self.jit.hot(int(state[EXIT_OP]))
            elif reason != EXIT_SLICE:
                raise AssertionError(f"unknown dispatcher exit {reason}")
        except Trap as trap:
            self.traps += 1
            state[PC] = to_int64(self.hart.take_trap(pc, trap.cause, trap.tval))

    def _refilled(self, reason: int, version: int) -> bool | None:
        """Service an exit that changes nothing the vCPU loop looks at (a block to decode, a TLB
        entry to fill, an access across pages, a store to a page of code, a counter read,
        fence.i, sfence.vma) and say whether the kernel may be called again at once: not if it
        trapped (the mode may have changed) or the block cache's arrays moved. None: another
        exit, nothing done."""
        state = self.state
        if reason == EXIT_FAULT:
            kind = state[FAULT_KIND]
            if kind == FAULT_STORE and self.code_pages.store_fault(int(state[FAULT_ADDR]) & MASK64):
                return True  # the store runs again, unprotected
            if kind in (FAULT_LOAD, FAULT_STORE):
                return self._device_access(version)
            if kind not in (FAULT_TLB_LOAD, FAULT_TLB_STORE):
                return None
        word = None
        if reason == EXIT_TRAP:
            word = self._trap_word_at(int(state[PC]) & MASK64) if state[FAULT_KIND] == TRAP_ILLEGAL else None
            if word is None:
                return None
            if word & 0xFE007FFF != 0x12000073:
                return self._privileged_refill(word, version)
        elif reason == EXIT_SYSCALL:
            return self._ecall_refill(version)
        elif reason not in (EXIT_FAULT, EXIT_MISS, EXIT_CSR, EXIT_FENCE_I):
            return None
        traps = self.traps
        self._service(reason, word)
        return self.traps == traps and self.cache.version == version

    def _device_access(self, version: int) -> bool:
        """An MMIO load or store (firmware polling its UART, a driver its registers): perform it
        and say whether the kernel may go on at once, as for a refill: yes unless it trapped,
        changed a device interrupt line, scheduled an event (a queue notification, a timer
        comparator), began a batch of console output (whose flush deadline the slice must
        respect) or the loop's turn has lasted TURN_NS (descriptors such as the console's input
        are polled there). A quarter of U-Boot's exits are these."""
        traps, lines, scheduled = self.traps, self.hart.mip_hw, self.loop.scheduled
        console = self.console
        batch_open = bool(console.output)
        self._service(EXIT_FAULT)
        if self.traps != traps or self.cache.version != version:
            return False
        if self.hart.mip_hw != lines or self.loop.scheduled != scheduled:
            return False
        now = time.monotonic_ns()
        if console.output and not batch_open:
            return False
        console.flush_due(now)
        return now - self._turn_ns < TURN_NS

    def _privileged_refill(self, word: int, version: int) -> bool | None:
        """mret, sret or a CSR access the kernels leave to Python (`word`, at pc): do it and say
        whether the kernel may go on at once, as for a refill: not if it trapped, left an
        interrupt to take, scheduled an event (a timer comparator) or the loop's turn has lasted
        TURN_NS. The mode and mstatus may have changed: the kernels' MMU words follow. (Linux
        returns from every trap with sret: a full loop turn each cost 30 us.) None: another
        instruction (wfi, an illegal one), for the loop."""
        if word not in (MRET, SRET) and (word & 0x7F != 0x73 or (word >> 12) & 7 in (0, 4)):
            self._trap_word = word
            return None
        traps, scheduled = self.traps, self.loop.scheduled
        self._service(EXIT_TRAP, word)
        return self.traps == traps and self._may_resume(version, scheduled)

    def _ecall_refill(self, version: int) -> bool:
        """ecall: take its trap (a system call into S mode, an SBI call into M mode) and say,
        as _privileged_refill does, whether the kernel may go on at once in the handler."""
        scheduled = self.loop.scheduled
        self._service(EXIT_SYSCALL)
        return self._may_resume(version, scheduled)

    def _may_resume(self, version: int, scheduled: int) -> bool:
        """After Python did an instruction that may have changed the mode, mstatus or the
        interrupt enables: whether the kernel may be entered again without a loop turn (no
        interrupt to take, no event scheduled, the block cache's arrays in place, the turn not
        yet TURN_NS long). The kernels' MMU words follow the new mode."""
        if self.cache.version != version or self.loop.scheduled != scheduled:
            return False
        hart = self.hart
        self.devices.update_interrupts()
        if hart.pending_interrupt() is not None:
            return False
        self.state[IRQ_PENDING] = hart.mip & hart.mie
        self.softmmu.sync()
        return time.monotonic_ns() - self._turn_ns < TURN_NS

    def _trap_word_at(self, pc: int) -> int | None:
        """The instruction word at pc (for _refilled to tell what it is), or None if it does
        not translate (_service raises that)."""
        try:
            return self._word_at(pc)
        except Trap:
            return None

    def _advance(self, length: int) -> None:
        self.state[PC] += length
        self.state[INSTRET] += 1

    def _translate(self, pc: int) -> None:
        """A block the kernel did not find at (signed) pc: the fetch TLB entry was missing, or
        the block itself."""
        mmu = self.softmmu
        phys = mmu.fetch_address(pc)
        if self.cache.lookup(pc, phys) >= 0:
            return
        try:
            block = self.decoded.translate(lambda at, size: mmu.fetch(at, size, phys), pc)
        except FetchFault:
            raise Trap(CAUSE_FETCH_ACCESS, pc) from None
        number = self.cache.insert(block, phys)
        if mmu.straddled is not None:
            mmu.add_straddler(number)  # (its second page is not watched: dropped at a fence.i)
        self.code_pages.add(number, phys, block.end_pc - block.pc - (0 if mmu.straddled is None else 2))
        page = (pc >> PAGE_SHIFT, phys >> PAGE_SHIFT)
        if page not in self._filled_pages:
            self._filled_pages.add(page)
            self._fill_page(pc, phys)

    def _forget_filled_pages(self) -> None:
        self._filled_pages = set()

    def _fill_page(self, pc: int, phys: int) -> None:
        """The first miss in a page (at pc, physical phys) also enters the page's other blocks
        that the decoded-block file has for its bytes now, all at once: one at a time, each was
        a kernel exit, a loop turn and an insertion (U-Boot's start had 6,000 such misses)."""
        base = pc & -PAGE_SIZE
        phys_base = phys - (pc - base)
        page = phys_base >> PAGE_SHIFT
        if phys_base < 0 or phys_base + PAGE_SIZE > self.memory.size or not self.memory.perm[page] & PERM_X:
            return
        found = self.decoded.in_page(base, self.memory.ram[phys_base : phys_base + PAGE_SIZE].tobytes())
        # None of these is entered yet but pc's own: a page is filled at its first miss, and
        # again only after its blocks were dropped (see _filled_pages); a fill has no straddlers.
        new = [block for block in found if block[0] != pc]
        if new:
            numbers = self.cache.insert_many(new, [phys_base + (block[0] - base) for block in new])
            self.code_pages.add_in_page(numbers, page)

    def _word_at(self, pc: int) -> int:
        code = self.softmmu.fetch(pc, 4)
        if len(code) >= 2 and code[0] & 3 != 3:
            return code[0] | code[1] << 8
        if len(code) < 4:
            raise Trap(CAUSE_FETCH_ACCESS, pc)
        return int.from_bytes(code[:4], "little")

    def _memory_fault(self, pc: int) -> None:
        addr = int(self.state[FAULT_ADDR]) & MASK64
        kind = int(self.state[FAULT_KIND])
        if kind == FAULT_MISALIGNED:  # an atomic access: lr is a load, sc and the AMOs store
            word = self._word_at(pc)
            is_lr = word & 0x7F == 0x2F and word >> 27 == 0x02
            raise Trap(CAUSE_LOAD_MISALIGNED if is_lr else CAUSE_STORE_MISALIGNED, addr)
        if kind in (FAULT_TLB_LOAD, FAULT_TLB_STORE):
            if self.softmmu.tlb_miss(addr, kind == FAULT_TLB_STORE):
                access = decode_access(self._word_at(pc))
                if access is None:  # only plain loads and stores can cross a page
                    raise AssertionError(f"page-crossing access by a non-load/store at {pc:#x}")
                self.softmmu.perform_crossing(access, addr, self.regs)
                self._advance(access.length)
            return
        if kind == FAULT_STORE and self.code_pages.store_fault(addr):
            return  # (see _refilled)
        word = self._word_at(pc)
        access = decode_access(word)
        cause = CAUSE_LOAD_ACCESS if kind == FAULT_LOAD else CAUSE_STORE_ACCESS
        if access is None or access.fp or access.store != (kind != FAULT_LOAD):
            raise Trap(cause, self._virtual(addr, kind, access, word))
        if access.store:
            value = int(self.regs[access.reg]) & ((1 << (8 * access.size)) - 1)
            if not self.devices.write(addr, access.size, value):
                raise Trap(cause, self._virtual(addr, kind, access, word))
        else:
            value = self.devices.read(addr, access.size)
            if value is None:
                raise Trap(cause, self._virtual(addr, kind, access, word))
            bits = 8 * access.size
            value &= (1 << bits) - 1
            if access.signed and value >> (bits - 1):
                value -= 1 << bits
            if access.reg:
                self.regs[access.reg] = to_int64(value)
        self._advance(access.length)

    def _virtual(self, addr: int, kind: int, access: Access | None, word: int) -> int:
        """The virtual address of a kernel access that faulted at physical `addr` (a trap's
        tval): the same address unless the access was translated."""
        if not self.state[MMU_LOAD if kind == FAULT_LOAD else MMU_STORE]:
            return addr
        if access is not None:
            return (int(self.regs[access.base]) + access.offset) & MASK64
        return int(self.regs[(word >> 15) & 31]) & MASK64  # an atomic: the address is x[rs1]

    def _privileged(self, pc: int, word: int | None = None) -> None:
        """An instruction the kernels do not execute: CSR access, mret, sret, wfi, sfence.vma;
        anything else is illegal. (`word`: the instruction, if already fetched.)"""
        word = self._word_at(pc) if word is None else word
        hart = self.hart
        if word & 0x7F != 0x73:
            raise illegal(word)
        funct3 = (word >> 12) & 7
        if funct3 == 0:
            if word == MRET:
                self.state[PC] = to_int64(hart.mret(word))
                self.state[INSTRET] += 1
            elif word == SRET:
                self.state[PC] = to_int64(hart.sret(word))
                self.state[INSTRET] += 1
            elif word == 0x10500073:
                hart.wfi(word)
                self._advance(4)
            elif word & 0xFE007FFF == 0x12000073:
                hart.sfence_vma(word)
                rs1, rs2 = (word >> 15) & 31, (word >> 20) & 31
                vaddr = int(self.regs[rs1]) if rs1 else None
                asid = int(self.regs[rs2]) & 0xFFFF if rs2 else None
                self.softmmu.sfence(vaddr, asid)
                self._advance(4)
            else:
                raise illegal(word)
            return
        if funct3 == 4:
            raise illegal(word)
        csr, rd, source = word >> 20, (word >> 7) & 31, (word >> 15) & 31
        operand = source if funct3 >= 5 else int(self.regs[source]) & MASK64
        kind = funct3 & 3  # 1: write, 2: set, 3: clear
        writes = kind == 1 or source != 0
        if kind == 1 and rd == 0:
            hart._check_access(csr, word, write=True)
            old = 0
        else:
            old = hart.csr_read(csr, word)
        if writes:
            new = operand if kind == 1 else (old | operand if kind == 2 else old & ~operand)
            hart.csr_write(csr, new, word)
            if csr == STIMECMP or csr == 0x30A:  # stimecmp or menvcfg (Sstc's enable)
                self.devices.rearm("stimecmp", hart.stimecmp if hart.sstc else NEVER)
        if rd:
            self.regs[rd] = to_int64(old)
        self._advance(4)

    def _counter(self, pc: int) -> None:
        word0 = int(self.cache.code[int(self.state[EXIT_OP]), 0])
        rd = (word0 >> 16) & 0xFF
        csr = (word0 >> 48) & 0xFFFF
        try:
            value = self.hart.csr_read(csr, 0)
        except Trap as trap:
            if trap.cause != CAUSE_ILLEGAL:
                raise
            raise illegal(self._word_at(pc)) from None  # (fetched only now: most reads succeed)
        self.regs[rd] = to_int64(value)
        self.regs[SINK] = 0
        self._advance(4)
