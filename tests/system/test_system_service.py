"""The runtime service: the machine's states and commands through the Python API, and the
QMP-like control socket of `dbt system --control`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import zipfile

import pytest
from guestbuild import available_bare_toolchains, build_bare

from dbt.backends.interp import load_kernel
from dbt.config import Config
from dbt.devices.service import FLUSH_DELAY_NS, Console
from dbt.ir.state import PC
from dbt.runtime.system.machine import MachineConfig, SystemMachine
from dbt.runtime.system.service import CommandError, MachineState, RuntimeService

TOOLCHAIN = available_bare_toolchains()[0]


def _service(program: str, sources: tuple[str, ...]) -> tuple[RuntimeService, int]:
    image = build_bare(program, TOOLCHAIN, sources)
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    machine = SystemMachine(
        MachineConfig(bios=None, kernel=str(image)), Config(no_jit=True), Console(write_fd)
    )
    machine.set_kernel(load_kernel())
    return RuntimeService(machine), read_fd


def test_step_then_run_to_power_off():
    service, output = _service("hello", ("start.S", "hello.c"))
    assert service.state is MachineState.CREATED
    service.step(50)
    assert service.state is MachineState.PAUSED
    first = service.machine.instructions
    assert 50 <= first < 50 + 64  # a step ends at the first block boundary past the count
    service.step(1)
    assert service.machine.instructions > first
    assert service.run() == 0
    assert service.state is MachineState.STOPPED and service.exit_code == 0
    assert os.read(output, 4096).startswith(b"hello from M mode\n")
    with pytest.raises(CommandError):
        service.run()
    with pytest.raises(CommandError):
        service.step(10)


def test_commands_as_the_socket_sends_them():
    service, _ = _service("spin", ("start.S", "spin.c"))
    assert service.execute({"execute": "query-status"})["return"]["status"] == "created"
    assert (
        service.execute({"execute": "step", "arguments": {"instructions": 100}})["return"]["status"]
        == "paused"
    )
    assert "error" in service.execute({"execute": "step", "arguments": {"instructions": -1}})
    assert "error" in service.execute({"execute": "no-such-command"})
    assert service.execute({"execute": "cont"}) == {"return": {}}  # paused -> running
    assert service.state is MachineState.RUNNING
    assert service.execute({"execute": "stop"}) == {"return": {}}
    assert service.state is MachineState.PAUSED
    assert service.execute({"execute": "quit"}) == {"return": {}}
    assert service.state is MachineState.STOPPED


def test_system_reset_command_starts_the_program_again():
    """system_reset between slices: the program runs again from the reset vector and prints its
    greeting a second time; a stopped machine refuses it."""
    service, output = _service("hello", ("start.S", "hello.c"))
    service.step(2000)
    first = os.read(output, 4096)
    assert first.startswith(b"hello from M mode\n")
    service.machine.hart.mscratch = 7
    assert service.execute({"execute": "system_reset"}) == {"return": {}}
    assert service.state is MachineState.PAUSED  # a reset keeps the run state
    assert service.machine.state[PC] == 0x1000 and service.machine.resets == 1  # the boot ROM
    assert service.machine.hart.mscratch == 7  # left as it was, as QEMU leaves it
    assert service.run() == 0
    assert os.read(output, 4096).startswith(b"hello from M mode\n")
    with pytest.raises(CommandError):
        service.reset()


class _Qmp:
    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.file = self.sock.makefile("rb")
        self.greeting = json.loads(self.file.readline())

    def __call__(self, name: str, **arguments) -> dict:
        request = {"execute": name, **({"arguments": arguments} if arguments else {})}
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        return json.loads(self.file.readline())


def test_control_socket(tmp_path):
    image = build_bare("spin", TOOLCHAIN, ("start.S", "spin.c"))
    path = str(tmp_path / "control.sock")
    command = [sys.executable, "-m", "dbt", "system", "--bios", "none", "--kernel", str(image),
               "--control", f"unix:{path}"]  # fmt: skip
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        qmp = _Qmp(path)
        assert "QMP" in qmp.greeting
        assert qmp("qmp_capabilities") == {"return": {}}
        assert qmp("query-status")["return"]["status"] == "running"
        assert qmp("stop") == {"return": {}}
        paused = qmp("query-status")["return"]
        assert paused["status"] == "paused" and not paused["running"]
        time.sleep(0.2)
        assert qmp("query-status")["return"]["instructions"] == paused["instructions"]  # nothing runs
        stepped = qmp("step", instructions=1000)["return"]
        assert stepped["status"] == "paused" and stepped["instructions"] >= paused["instructions"] + 1000
        assert qmp("cont") == {"return": {}}
        time.sleep(0.2)
        assert qmp("query-status")["return"]["instructions"] > stepped["instructions"]
        assert "error" in qmp("step", instructions=10)  # only from a paused machine
        assert qmp("quit") == {"return": {}}
        assert process.wait(timeout=60) == 0
        assert process.stdout.read() == b"spinning\n"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_control_socket_refuses_other_addresses(tmp_path):
    image = build_bare("spin", TOOLCHAIN, ("start.S", "spin.c"))
    result = subprocess.run([sys.executable, "-m", "dbt", "system", "--bios", "none", "--kernel", str(image),
                             "--control", "tcp:127.0.0.1:4444"], capture_output=True, timeout=60)  # fmt: skip
    assert result.returncode == 1
    assert (
        result.stderr
        == b"dbt: error: --control: only unix:PATH sockets are supported, not 'tcp:127.0.0.1:4444'\n"
    )


def test_snapshot_resumes_where_it_was_saved(tmp_path):
    """Save in the middle of the traps program, run it to its end; a fresh machine loaded from the
    snapshot prints the same rest and ends the same way."""
    sources = ("start.S", "vectors.S", "traps.c")
    service, output = _service("traps", sources)
    service.step(3000)
    saved_at = service.machine.instructions
    path = str(tmp_path / "machine.snap")
    assert service.execute({"execute": "snapshot-save", "arguments": {"file": path}}) == {"return": {}}
    before = os.read(output, 1 << 16)
    assert service.run() == 0
    rest = os.read(output, 1 << 16)
    assert rest.endswith(b"done\n") and before

    again, again_output = _service("traps", sources)
    again.load_snapshot(path)
    assert again.machine.instructions == saved_at
    assert again.run() == 0
    assert os.read(again_output, 1 << 16) == rest


def test_snapshot_of_another_machine_is_refused(tmp_path):
    service, _ = _service("hello", ("start.S", "hello.c"))
    path = str(tmp_path / "hello.snap")
    service.save_snapshot(path)
    other, _ = _service("spin", ("start.S", "spin.c"))
    answer = other.execute({"execute": "snapshot-load", "arguments": {"file": path}})
    assert "another configuration" in answer["error"]["desc"]
    (tmp_path / "junk.snap").write_bytes(b"not a snapshot")
    answer = other.execute({"execute": "snapshot-load", "arguments": {"file": str(tmp_path / "junk.snap")}})
    assert answer["error"]["desc"].startswith("cannot read the snapshot")
    # one of an older layout of the state array
    old = tmp_path / "old.snap"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(old, "w") as target:
        meta = json.loads(source.read("machine.json"))
        target.writestr("machine.json", json.dumps({**meta, "format": "dbt-snapshot-1"}))
        target.writestr("arrays.npz", source.read("arrays.npz"))
    answer = service.execute({"execute": "snapshot-load", "arguments": {"file": str(old)}})
    assert "written by another version of dbt" in answer["error"]["desc"]


# ---- the vCPU loop's turns: device accesses that change nothing the loop looks at go straight
# back into the kernel, and console output leaves in batches, yet nothing is late or lost ----
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
    service, output = _service("hello", ("start.S", "hello.c"))
    machine = service.machine
    turns = _counting(machine.loop, "poll")
    writes = _counting(machine.console, "flush")
    assert service.run() == 0
    accesses = machine.devices.mmio_reads + machine.devices.mmio_writes
    text = os.read(output, 65536)
    assert text.startswith(b"hello from M mode\nhartid: 0x0\n")
    assert text.endswith(b"uart lsr: 0x60\n")
    assert accesses > 2 * len(text)
    assert turns[0] < accesses // 4, (turns[0], accesses)
    assert writes[0] < accesses // 4, (writes[0], accesses)


def test_ecall_and_mret_stay_in_the_kernel():
    """A trap taken in Python (an ecall) and a return from one (mret) go straight back into the
    kernel when no interrupt or event waits: 2,000 of them took 2,000 loop turns before."""
    service, output = _service("ecalls", ("start.S", "ecalls.c"))
    turns = _counting(service.machine.loop, "poll")
    assert service.run() == 0
    assert os.read(output, 65536) == b"ecalls returned from: 0x3e8\n"
    assert service.machine.traps >= 1000
    assert turns[0] < 100, turns[0]


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


def test_pages_filled_from_the_decoded_block_file_follow_rewritten_code(tmp_path, monkeypatch):
    """A second run enters a page's blocks from the first run's file at the page's first miss,
    all at once; rewrite.c then rewrites that page four times (fence.i each time): each round's
    blocks must come from the bytes of that round. The output is the first run's, which
    test_bare_metal compares with QEMU's."""
    from dbt.runtime import decodecache

    monkeypatch.setenv("DBT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(decodecache, "SAVE_AT_LEAST", 0)
    outputs, misses, entered = [], [], []
    for _ in range(2):
        service, output = _service("rewrite", ("start.S", "rewrite.c"))
        machine = service.machine
        translated = _counting(machine, "_translate")
        assert service.run() == 0
        machine.decoded.save()
        outputs.append(os.read(output, 65536))
        misses.append(translated[0])
        entered.append(machine.cache.total_decoded)
    assert outputs[0] == outputs[1] and outputs[0].count(b"sum: ") == 4
    assert misses[0] >= entered[0]  # the first run has no file: a miss per block
    assert misses[1] < entered[1] // 2, (misses, entered)
