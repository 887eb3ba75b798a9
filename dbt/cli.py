"""The `dbt` command (typer + rich): a thin layer over the public API in `dbt.api`.

    dbt run --arch riscv64 [OPTIONS] GUEST [GUEST_ARGS]...

Exit status: the guest's; 128 + signal number when a signal ends it; 127 when the guest file
does not exist; 126 when it is not a loadable RISC-V 64 ELF; 2 for usage errors.
"""

from __future__ import annotations

import logging
import os
import resource
import signal as host_signal
import sys
from typing import Annotated

import typer

from dbt._version import __version__
from dbt.cache_cli import cache_app
from dbt.iso_cli import iso_app

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="dbt: run RISC-V 64 Linux programs on this machine (a dynamic binary translator).",
    context_settings={"help_option_names": ["-h", "--help"]},
)
log = logging.getLogger("dbt")
app.add_typer(cache_app, name="cache")
app.add_typer(iso_app, name="iso")

ARCHES = ("riscv64",)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dbt {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    pass


@app.command(
    # Option parsing stops at GUEST: everything after it, dashes included, belongs to the guest.
    context_settings={"allow_interspersed_args": False},
    no_args_is_help=True,
)
def run(
    guest: Annotated[
        str, typer.Argument(help="The guest program (a RISC-V 64 Linux ELF).", show_default=False)
    ],
    guest_args: Annotated[
        list[str] | None, typer.Argument(help="Arguments for the guest (everything after GUEST).")
    ] = None,
    arch: Annotated[str, typer.Option("--arch", help="Guest architecture.")] = "riscv64",
    cpu: Annotated[
        str | None,
        typer.Option(
            "--cpu",
            help="CPU model: rv64gc (default), rva22u64, rva23u64-novector or max, "
            "with ext=on|off overrides, e.g. rv64gc,zba=on,zbb=on.",
        ),
    ] = None,
    no_jit: Annotated[bool, typer.Option("--no-jit", help="Interpreter only: compile no regions.")] = False,
    jit_threshold: Annotated[
        int | None,
        typer.Option(
            "--jit-threshold", min=0, help="Block heat that triggers a compile (0: every block, at once)."
        ),
    ] = None,
    jit_threads: Annotated[
        int | None,
        typer.Option(
            "--jit-threads", min=0, help="Compile worker processes (default cores-1; 0: main thread)."
        ),
    ] = None,
    differential: Annotated[
        bool,
        typer.Option(
            "--differential",
            "--diff",
            help="Interpreter run with a JIT shadow compared at every guest event (125: they differ).",
        ),
    ] = False,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache", help="Do not use the on-disk caches (regions; lifted blocks too in system mode)."
        ),
    ] = False,
    cache_dir: Annotated[
        str | None, typer.Option("--cache-dir", help="Cache directory (default ~/.cache/dbt; DBT_CACHE_DIR).")
    ] = None,
    sysroot: Annotated[
        str | None,
        typer.Option(
            "--sysroot", "-L", help="Guest root for absolute paths and the dynamic loader (qemu's -L)."
        ),
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option("--env", "-E", help="Set VAR=VALUE in the guest environment (repeatable)."),
    ] = None,
    unset_env: Annotated[
        list[str] | None, typer.Option("--unset-env", "-U", help="Remove VAR from the guest environment.")
    ] = None,
    argv0: Annotated[
        str | None, typer.Option("--argv0", "-0", help="argv[0] for the guest (default: GUEST).")
    ] = None,
    strace: Annotated[bool, typer.Option("--strace", help="Print each system call and its result.")] = False,
    trace: Annotated[
        list[str] | None, typer.Option("--trace", "-d", help="Trace: in_asm (each newly decoded block).")
    ] = None,
    trace_file: Annotated[
        str | None, typer.Option("--trace-file", "-D", help="Write --trace output here instead of stderr.")
    ] = None,
    stats: Annotated[
        bool, typer.Option("--stats", help="At exit: instructions retired, blocks decoded, wall time, MIPS.")
    ] = False,
    log_level: Annotated[
        str | None, typer.Option("--log-level", help="debug, info, warning (default) or error; env DBT_LOG.")
    ] = None,
) -> None:
    """Run a RISC-V 64 Linux program, as qemu-riscv64 does."""
    level = _start_command(log_level, arch)
    jit_options = {
        "no_jit": no_jit or None,
        "jit_threshold": jit_threshold,
        "jit_threads": jit_threads,
        "no_cache": no_cache or None,
        "cache_dir": cache_dir,
        "differential": differential or None,
        "cpu": cpu,
    }
    status = _run_guest(
        guest, guest_args or [], sysroot, env or [], unset_env or [], argv0, strace, trace or [], trace_file,
        stats, log_level, jit_options, debug=level <= logging.DEBUG,
    )  # fmt: skip
    raise typer.Exit(status)


def _start_command(log_level: str | None, arch: str) -> int:
    """Logging and the common checks of a command that runs a guest; returns the log level."""
    from dbt.log import setup_logging, use_private_stderr

    use_private_stderr()
    try:
        level = setup_logging(log_level)
    except Exception as exc:
        _fail(str(exc), 2)
    if arch not in ARCHES:
        _fail(f"unsupported --arch {arch!r} (supported: {', '.join(ARCHES)})", 2)
    return level


def _run_guest(guest, guest_args, sysroot, env, unset_env, argv0, strace, trace, trace_file, stats, log_level,
               jit_options, debug) -> int:  # fmt: skip
    from dbt.config import Config
    from dbt.errors import DbtError

    trace_kinds = tuple(k for item in trace for k in item.split(",") if k)
    try:
        config = Config.from_env(
            sysroot=sysroot,
            strace=strace or None,
            trace=trace_kinds or None,
            trace_file=trace_file,
            stats=stats or None,
            log_level=log_level,
            **jit_options,
        )
        return _execute(config, guest, guest_args, env, unset_env, argv0)
    except DbtError as exc:
        if debug:
            log.exception("dbt failed")
        _fail(str(exc), exc.exit_status)
    except KeyboardInterrupt:
        return 128 + 2
    except Exception as exc:  # a dbt bug: one line, the traceback only at debug level
        if debug:
            log.exception("internal error")
        _fail(f"internal error: {type(exc).__name__}: {exc} (run with --log-level debug for details)", 70)
    return 1


def _execute(config, guest: str, guest_args: list[str], env: list[str], unset_env: list[str], argv0) -> int:
    from dbt import log as dbt_log
    from dbt.api import Machine, guest_environment
    from dbt.backends.interp import load_kernel

    err = dbt_log.dbt_stderr

    _default_host_signals()
    envp = guest_environment(None, env, unset_env)
    argv = [os.fsencode(argv0 if argv0 is not None else guest), *(os.fsencode(a) for a in guest_args)]
    machine = Machine(guest, argv, envp, config)
    process = machine.process
    if hasattr(err, "fileno"):
        process.own_fds.add(err.fileno())
    if process.strace is not None:
        process.strace = err
    trace_stream = None
    if config.trace:
        if config.trace_file:
            trace_stream = open(config.trace_file, "w")  # noqa: SIM115 - lives as long as the run
            process.own_fds.add(trace_stream.fileno())
        process.trace_out = trace_stream or err

    def finish(result) -> int:
        """The guest ended: dbt's messages, and the exit status to leave with."""
        if trace_stream:
            trace_stream.close()
        if config.stats:
            _print_stats(machine, err)
        if result.signal is None:
            return result.status
        from dbt.runtime import signals as sig

        core = sig.default_action(result.signal) == "core"
        if not process.is_child or core:
            err.write(f"dbt: {result.describe()}\n")
        if process.is_child:
            _die_by_signal(result.signal)
        return result.status

    process.set_kernel(load_kernel(dbt_log.announce))
    process.finish = finish  # (a child forked by a guest thread other than the main one ends there)
    process.stats.started = __import__("time").perf_counter()
    return finish(machine.run())


def _print_stats(machine, err) -> None:
    process = machine.process
    seconds = process.wall_time()
    insns = machine.instructions
    mips = insns / seconds / 1e6 if seconds > 0 else 0.0
    err.write(
        f"dbt: {insns:,} instructions retired, {machine.blocks_decoded:,} blocks decoded, "
        f"{process.stats.syscalls:,} system calls, {seconds:.3f} s wall, {mips:.1f} MIPS\n"
    )
    if process.jit is not None:
        summary = process.jit.stats.summary(process.counters(), process.stats.kernel_entries)
        err.write(f"dbt: JIT: {summary}\n")
    if machine.lockstep is not None:
        ls = machine.lockstep.stats
        err.write(
            f"dbt: differential: {ls.compared:,} events compared, {ls.resyncs:,} synchronisations, "
            f"{ls.pages_copied:,} pages copied; JIT shadow: {machine.lockstep.b.jit.stats.summary()}\n"
        )


def _default_host_signals() -> None:
    """Keyboard and termination signals end dbt as they would end the guest (unless inherited ignored)."""
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM"):
        number = getattr(host_signal, name, None)
        if number is not None and host_signal.getsignal(number) is not host_signal.SIG_IGN:
            host_signal.signal(number, host_signal.SIG_DFL)


def _die_by_signal(guest_signo: int) -> None:
    """End this (guest-created) process by the real signal, so the guest parent's wait sees it."""
    from dbt.runtime import signals as sig

    host = sig.to_host(guest_signo)
    if host is not None:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        host_signal.signal(host, host_signal.SIG_DFL)
        host_signal.pthread_sigmask(host_signal.SIG_UNBLOCK, [host])
        os.kill(os.getpid(), host)
    os._exit(128 + guest_signo)


@app.command(no_args_is_help=True)
def system(
    kernel: Annotated[
        str | None, typer.Option("--kernel", "-kernel", help="Kernel: an ELF or a raw image (Linux Image).")
    ] = None,
    bios: Annotated[
        str,
        typer.Option(
            "--bios",
            "-bios",
            help="Firmware: 'default' (Debian's OpenSBI), a file, or 'none' (the kernel runs in M mode).",
        ),
    ] = "default",
    memory: Annotated[
        str, typer.Option("-m", "--memory", help="RAM size (MiB, or with K/M/G suffix).")
    ] = "128M",
    initrd: Annotated[str | None, typer.Option("--initrd", "-initrd", help="Initial RAM disk.")] = None,
    append: Annotated[str | None, typer.Option("--append", "-append", help="Kernel command line.")] = None,
    arch: Annotated[str, typer.Option("--arch", help="Guest architecture.")] = "riscv64",
    machine: Annotated[str, typer.Option("--machine", "-M", help="Machine type (virt).")] = "virt",
    smp: Annotated[int, typer.Option("--smp", help="Harts (1).")] = 1,
    nographic: Annotated[
        bool,
        typer.Option(
            "--nographic", "-nographic", help="Accepted for QEMU's command lines: dbt has no display."
        ),
    ] = False,
    control: Annotated[
        str | None,
        typer.Option(
            "--control",
            help="A QMP-like JSON control socket: unix:PATH "
            "(query-status, stop, cont, step, system_reset, quit).",
        ),
    ] = None,
    drive: Annotated[
        list[str] | None,
        typer.Option("--drive", "-drive", help="A virtio-blk disk: file=IMG[,format=raw][,readonly=on]."),
    ] = None,
    cdrom: Annotated[
        str | None, typer.Option("--cdrom", "-cdrom", help="An ISO 9660 image (read-only virtio-blk).")
    ] = None,
    netdev: Annotated[
        list[str] | None,
        typer.Option(
            "--netdev",
            "-netdev",
            help="A virtio-net card on a backend: user[,hostfwd=tcp:[ADDR]:PORT-:PORT...] (libslirp), "
            "tap,ifname=NAME, or socket,connect=HOST:PORT|listen=HOST:PORT|udp=HOST:PORT.",
        ),
    ] = None,
    device: Annotated[
        list[str] | None, typer.Option("--device", "-device", help="An extra device: virtio-rng-device.")
    ] = None,
    snapshot: Annotated[
        str | None,
        typer.Option("--snapshot", help="Start from this snapshot (saved with the snapshot-save command)."),
    ] = None,
    no_jit: Annotated[bool, typer.Option("--no-jit", help="Interpreter only: compile no regions.")] = False,
    jit_threshold: Annotated[
        int | None,
        typer.Option("--jit-threshold", min=0, help="Block heat that triggers a compile (default 1000)."),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache", help="Do not use the on-disk caches of compiled regions and lifted blocks."
        ),
    ] = False,
    stats: Annotated[
        bool, typer.Option("--stats", help="At exit: instructions retired, wall time, MIPS.")
    ] = False,
    log_level: Annotated[
        str | None, typer.Option("--log-level", help="debug, info, warning (default) or error; env DBT_LOG.")
    ] = None,
) -> None:
    """Boot a RISC-V virt machine (firmware, kernel, initrd) on this terminal, as
    qemu-system-riscv64 -M virt -nographic does. Ctrl-A x quits."""
    from dbt.system_cli import run_system

    level = _start_command(log_level, arch)
    if machine != "virt":
        _fail(f"unsupported --machine {machine!r} (supported: virt)", 2)
    if smp != 1:
        _fail("--smp: one hart only", 2)
    options = {
        "kernel": kernel,
        "bios": bios,
        "memory": memory,
        "initrd": initrd,
        "append": append,
        "control": control,
        "snapshot": snapshot,
        "drives": drive or [],
        "cdrom": cdrom,
        "netdevs": netdev or [],
        "devices": device or [],
        "jit": {"no_jit": no_jit or None, "jit_threshold": jit_threshold, "no_cache": no_cache or None},
    }
    raise typer.Exit(run_system(options, stats, debug=level <= logging.DEBUG))


@app.command()
def bench(
    guests: Annotated[
        list[str] | None,
        typer.Argument(
            help="Guests as NAME[:ARG...] from tests/guests (default: compute, fpcompute and the kernels).",
            show_default=False,
        ),
    ] = None,
    runs: Annotated[int, typer.Option("--runs", "-n", help="Runs of each configuration (median).")] = 3,
    interp: Annotated[bool, typer.Option("--interp/--no-interp", help="Also time dbt --no-jit.")] = True,
    quick: Annotated[
        bool, typer.Option("--quick", help="Tiny sizes, one run: checks that everything runs, not speed.")
    ] = False,
    json_path: Annotated[
        str | None, typer.Option("--json", help="Also write the results (and the machine) as JSON here.")
    ] = None,
) -> None:
    """Head-to-head wall times: the repo's C guests natively, under qemu-riscv64 and under dbt."""
    from dbt import bench as bench_module
    from dbt.errors import DbtError

    specs = list(guests or (bench_module.QUICK_GUESTS if quick else bench_module.DEFAULT_GUESTS))
    runs = 1 if quick else runs
    try:
        results = bench_module.run_bench(specs, runs=runs, interp=interp, log=lambda m: log.info("%s", m))
    except DbtError as exc:
        _fail(str(exc), 1)
    bench_module.render(results, runs)
    if json_path:
        with open(json_path, "w") as out:
            out.write(bench_module.to_json(results, runs) + "\n")


def _fail(message: str, status: int) -> None:
    from dbt import log as dbt_log

    dbt_log.dbt_stderr.write(f"dbt: error: {message}\n")
    raise typer.Exit(status)


def main() -> None:
    try:
        app(prog_name="dbt")
    except SystemExit as done:
        code = done.code
        _exit(code if isinstance(code, int) else (0 if code is None else 1))


def _exit(status: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # the guest may have closed fd 1 or 2
            pass
    # Forked guest children must not run the parent's atexit handlers twice.
    os._exit(status)
