"""`dbt system`: boot a virt machine (firmware, kernel, initrd) on the terminal, as
qemu-system-riscv64 -M virt -nographic does."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import termios
import tty

from dbt.errors import ConfigError, DbtError

log = logging.getLogger("dbt.cli")

_SIZE = re.compile(r"^(\d+)([KMGT]?)(i?B)?$", re.IGNORECASE)
_UNITS = {"": 1 << 20, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """-m SIZE as QEMU reads it: a number of MiB, or with a K/M/G/T suffix."""
    match = _SIZE.match(text.strip())
    if not match:
        raise ConfigError(f"-m: cannot read the memory size {text!r} (e.g. 128M, 1G)")
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def parse_drive(text: str) -> tuple[str, bool]:
    """--drive file=IMG[,format=raw][,readonly=on|off] as QEMU spells it: (path, read-only)."""
    from dbt.errors import BlockError

    fields = dict(part.split("=", 1) if "=" in part else (part, "") for part in text.split(",") if part)
    unknown = set(fields) - {"file", "format", "readonly", "if", "media"}
    if unknown:
        raise BlockError(f"--drive: unknown option {sorted(unknown)[0]!r} in {text!r}")
    if not fields.get("file"):
        raise BlockError(f"--drive: no file= in {text!r}")
    if fields.get("format", "raw") != "raw":
        raise BlockError(f"--drive: only format=raw images are supported, not {fields['format']!r}")
    readonly = fields.get("readonly", "off") in ("on", "yes", "true", "1")
    return fields["file"], readonly


@contextlib.contextmanager
def _raw_terminal(fd: int):
    """The terminal in raw mode while the machine runs (keys go to the guest), restored after."""
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def run_system(options: dict, stats: bool, debug: bool) -> int:
    from dbt.backends.interp import load_kernel
    from dbt.config import Config
    from dbt.devices.service import Console
    from dbt.ir.state import TLB_FLUSHES
    from dbt.log import announce, dbt_stderr
    from dbt.runtime.jit import SYSTEM_JIT_THRESHOLD
    from dbt.runtime.system.machine import MachineConfig, SystemMachine
    from dbt.runtime.system.service import RuntimeService

    try:
        machine_config = MachineConfig(
            ram_size=parse_size(options["memory"]),
            bios=None if options["bios"] == "none" else options["bios"],
            kernel=options["kernel"],
            initrd=options["initrd"],
            append=options["append"] or "",
            drives=tuple(parse_drive(text) for text in options.get("drives") or ()),
            cdrom=options.get("cdrom"),
            netdevs=tuple(options.get("netdevs") or ()),
            devices=tuple(options.get("devices") or ()),
        )
        jit = dict(options["jit"])
        if jit.get("jit_threshold") is None and "DBT_JIT_THRESHOLD" not in os.environ:
            jit["jit_threshold"] = SYSTEM_JIT_THRESHOLD
        config = Config.from_env(**jit)
        stdin_tty = os.isatty(0)
        console = Console(out_fd=1, in_fd=0, escapes=stdin_tty)
        machine = SystemMachine(machine_config, config, console)

        machine.set_kernel(load_kernel(announce))
        service = RuntimeService(machine)
        if options.get("snapshot"):
            service.load_snapshot(options["snapshot"])
        if options.get("control"):
            service.listen(options["control"])
        started = __import__("time").perf_counter()
        with _raw_terminal(0) if stdin_tty else contextlib.nullcontext():
            status = service.run()
        seconds = __import__("time").perf_counter() - started
        machine.decoded.save()
        if stats:
            insns = machine.instructions
            mmio = machine.devices.mmio_reads + machine.devices.mmio_writes
            dbt_stderr.write(
                f"dbt: {insns:,} instructions retired, {mmio:,} MMIO accesses, {seconds:.3f} s wall, "
                f"{insns / max(seconds, 1e-9) / 1e6:.1f} MIPS\n"
            )
            cache, mmu = machine.cache, machine.softmmu.mmu
            native_flushes = int(machine.state[TLB_FLUSHES])
            tlb_flushes = mmu.tlb.flushes + native_flushes
            dbt_stderr.write(
                f"dbt: {cache.total_decoded:,} blocks decoded, {cache.flushes:,} flushes of them; "
                f"{mmu.walks:,} page walks, {tlb_flushes:,} TLB flushes ({native_flushes:,} by the kernels)\n"
            )
            decoded = machine.decoded
            dbt_stderr.write(
                f"dbt: {decoded.lifted:,} blocks lifted, {decoded.reused:,} reused by their bytes "
                f"({decoded.loaded:,} in the decoded-block cache file at start)\n"
            )
            if machine.jit is not None:
                dbt_stderr.write(f"dbt: JIT: {machine.jit.stats.summary(machine.state)}\n")
        return status or 0
    except DbtError as exc:
        if debug:
            log.exception("dbt failed")
        sys.stderr.write(f"dbt: error: {exc}\n")
        return exc.exit_status
    except KeyboardInterrupt:
        return 128 + 2
    except Exception as exc:  # a dbt bug: one line, the traceback only at debug level
        if debug:
            log.exception("internal error")
        sys.stderr.write(
            f"dbt: error: internal error: {type(exc).__name__}: {exc} "
            "(run with --log-level debug for details)\n"
        )
        return 70
