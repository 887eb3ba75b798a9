"""The vCPU loop's turns: device accesses that change nothing the loop looks at go straight back
into the kernel, and console output leaves in batches, yet nothing is late or lost."""

from __future__ import annotations

import os

from guestbuild import available_bare_toolchains, build_bare

from dbt.backends.interp import load_kernel
from dbt.config import Config
from dbt.devices.service import FLUSH_DELAY_NS, Console
from dbt.runtime.system.machine import MachineConfig, SystemMachine

TOOLCHAIN = available_bare_toolchains()[0]


def _machine(program: str, sources: tuple[str, ...]) -> tuple[SystemMachine, int]:
    image = build_bare(program, TOOLCHAIN, sources)
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    machine = SystemMachine(
        MachineConfig(bios=None, kernel=str(image)), Config(no_jit=True), Console(write_fd)
    )
    machine.set_kernel(load_kernel())
    return machine, read_fd


def _counting(owner: object, name: str) -> list[int]:
    calls = [0]
    original = getattr(owner, name)

    def counted(*args, **kwargs):
        calls[0] += 1
        return original(*args, **kwargs)

    setattr(owner, name, counted)
    return calls


def test_uart_polling_stays_in_the_kernel_and_output_leaves_in_batches():
    """hello.c polls the UART's line status before each byte it writes (two MMIO accesses a
    byte). A loop turn per access was the rule; now the loop turns for a batch of output, an
    interrupt line that moved or an event, and the bytes still all arrive, in order."""
    machine, output = _machine("hello", ("start.S", "hello.c"))
    turns = _counting(machine.loop, "poll")
    writes = _counting(machine.console, "flush")
    assert machine.run() == 0
    accesses = machine.devices.mmio_reads + machine.devices.mmio_writes
    text = os.read(output, 65536)
    assert text.startswith(b"hello from M mode\nhartid: 0x0\n")
    assert text.endswith(b"uart lsr: 0x60\n")
    assert accesses > 2 * len(text)
    assert turns[0] < accesses // 4, (turns[0], accesses)
    assert writes[0] < accesses // 4, (writes[0], accesses)


def test_console_output_waits_at_most_the_flush_delay():
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    console = Console(write_fd)
    for byte in b"hi":
        console.transmit(byte)
    console.flush_due(console.since_ns + FLUSH_DELAY_NS - 1)
    assert console.output == bytearray(b"hi")
    console.flush_due(console.since_ns + FLUSH_DELAY_NS)
    assert os.read(read_fd, 16) == b"hi" and not console.output
    console.transmit(ord("!"))
    console.flush()
    assert os.read(read_fd, 16) == b"!"
