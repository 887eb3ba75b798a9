"""The runtime service of system mode: the machine's state machine and its commands, for the
Python API and for a QMP-like JSON control socket on the machine's event loop.

States: created -> running <-> paused -> stopped (or failed). Commands: run, pause, resume,
step N (from created or paused: run about N instructions, then pause), stop, snapshot save and
load (runtime/system/snapshot.py). The control socket
speaks a subset of QEMU's QMP: a greeting, then one JSON object per line, each answered with
{"return": ...} or {"error": {"class": ..., "desc": ...}}.
Stage: runtime (system mode).
"""

from __future__ import annotations

import enum
import json
import logging
import os
import socket
from dataclasses import dataclass, field

from dbt.errors import VmError

log = logging.getLogger("dbt.system")


class MachineState(enum.Enum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    FAILED = "failed"


class CommandError(VmError):
    """A command the machine's state does not allow, or an unknown one."""


@dataclass
class RuntimeService:
    """Runs a SystemMachine and answers commands about it."""

    machine: object
    state: MachineState = MachineState.CREATED
    exit_code: int | None = None
    failure: str | None = None
    _clients: list = field(default_factory=list)

    # ---- the state machine ----
    def run(self) -> int | None:
        """Run until the machine powers off or a stop command (returns the exit status; None if
        stopped), pausing while a pause command holds it."""
        if self.state in (MachineState.STOPPED, MachineState.FAILED):
            raise CommandError(f"the machine is {self.state.value}")
        self.state = MachineState.RUNNING
        try:
            code = self.machine.run(should_stop=self._should_stop, paused=self._paused)
        except Exception as exc:
            self.state = MachineState.FAILED
            self.failure = f"{type(exc).__name__}: {exc}"
            raise
        if code is not None or self.machine.stop_requested:
            self.state = MachineState.STOPPED
            self.exit_code = code
        return code

    def step(self, instructions: int) -> None:
        """Run about `instructions` more (from created or paused), then pause."""
        if self.state not in (MachineState.CREATED, MachineState.PAUSED):
            raise CommandError(f"step needs a created or paused machine, not a {self.state.value} one")
        self.state = MachineState.RUNNING
        code = self.machine.run(max_instructions=instructions)
        if code is not None:
            self.state, self.exit_code = MachineState.STOPPED, code
        else:
            self.state = MachineState.PAUSED

    def pause(self) -> None:
        if self.state == MachineState.RUNNING:
            self.state = MachineState.PAUSED
        elif self.state != MachineState.PAUSED:
            raise CommandError(f"cannot pause a {self.state.value} machine")

    def resume(self) -> None:
        if self.state == MachineState.PAUSED:
            self.state = MachineState.RUNNING
        elif self.state != MachineState.RUNNING:
            raise CommandError(f"cannot resume a {self.state.value} machine")

    def stop(self) -> None:
        self.machine.stop_requested = True
        if self.state in (MachineState.CREATED, MachineState.PAUSED):
            self.state = MachineState.STOPPED

    def reset(self) -> None:
        """A system reset (the machine keeps its run state: a paused machine stays paused)."""
        if self.state in (MachineState.STOPPED, MachineState.FAILED):
            raise CommandError(f"cannot reset a {self.state.value} machine")
        self.machine.reset()

    def save_snapshot(self, path: str) -> None:
        """The whole machine to a file (between two slices of the vCPU, so in any live state)."""
        from dbt.runtime.system import snapshot

        if self.state is MachineState.FAILED:
            raise CommandError("cannot snapshot a failed machine")
        snapshot.save(self.machine, path)

    def load_snapshot(self, path: str) -> None:
        """Replace the machine's state with a snapshot's (same configuration)."""
        from dbt.runtime.system import snapshot

        if self.state in (MachineState.STOPPED, MachineState.FAILED):
            raise CommandError(f"cannot load a snapshot into a {self.state.value} machine")
        snapshot.load(self.machine, path)

    def _paused(self) -> bool:
        return self.state == MachineState.PAUSED

    def _should_stop(self) -> bool:
        return self.machine.stop_requested

    def status(self) -> dict:
        return {
            "status": self.state.value,
            "running": self.state == MachineState.RUNNING,
            "instructions": self.machine.instructions,
            "exit-code": self.exit_code,
        }

    # ---- commands, as the control socket receives them ----
    def execute(self, request: dict) -> dict:
        """One QMP-style command: {"execute": NAME, "arguments": {...}}."""
        name = request.get("execute")
        arguments = request.get("arguments") or {}
        try:
            if name == "qmp_capabilities":
                result: object = {}
            elif name == "query-status":
                result = self.status()
            elif name in ("stop", "pause"):
                self.pause()
                result = {}
            elif name in ("cont", "resume"):
                self.resume()
                result = {}
            elif name == "system_reset":
                self.reset()
                result = {}
            elif name == "quit":
                self.stop()
                result = {}
            elif name in ("snapshot-save", "snapshot-load"):
                path = arguments.get("file")
                if not isinstance(path, str) or not path:
                    raise CommandError(f"{name} needs arguments.file, a path")
                (self.save_snapshot if name == "snapshot-save" else self.load_snapshot)(path)
                result = {}
            elif name == "step":
                count = arguments.get("instructions")
                if not isinstance(count, int) or count <= 0:
                    raise CommandError("step needs arguments.instructions, a positive integer")
                self.step(count)
                result = self.status()
            else:
                raise CommandError(f"unknown command {name!r}")
        except VmError as exc:
            return {"error": {"class": "GenericError", "desc": str(exc)}}
        return {"return": result}

    # ---- the control socket ----
    def listen(self, address: str) -> None:
        """Serve the control socket at `address` ("unix:PATH") on the machine's event loop."""
        if not address.startswith("unix:"):
            raise VmError(f"--control: only unix:PATH sockets are supported, not {address!r}")
        path = address[len("unix:") :]
        if os.path.exists(path):
            os.unlink(path)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            server.bind(path)
        except OSError as exc:
            raise VmError(f"--control: cannot listen on {path}: {exc.strerror}") from None
        server.listen(4)
        server.setblocking(False)
        self.machine.loop.add_reader(server.fileno(), lambda: self._accept(server))
        self._clients.append(server)

    def _accept(self, server: socket.socket) -> None:
        try:
            client, _ = server.accept()
        except BlockingIOError:
            return
        client.setblocking(False)
        buffer = bytearray()
        self._clients.append(client)
        greeting = {"QMP": {"version": {"package": "dbt"}, "capabilities": []}}
        client.sendall(json.dumps(greeting).encode() + b"\r\n")
        self.machine.loop.add_reader(client.fileno(), lambda: self._readable(client, buffer))

    def _readable(self, client: socket.socket, buffer: bytearray) -> None:
        try:
            data = client.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.machine.loop.remove_reader(client.fileno())
            client.close()
            return
        buffer.extend(data)
        while b"\n" in buffer:
            line, _, rest = bytes(buffer).partition(b"\n")
            buffer[:] = rest
            if not line.strip():
                continue
            try:
                request = json.loads(line)
                answer = self.execute(request) if isinstance(request, dict) else None
            except json.JSONDecodeError:
                answer = None
            if answer is None:
                answer = {"error": {"class": "GenericError", "desc": "expected a JSON object per line"}}
            log.debug("control: %s -> %s", line, answer)
            try:
                client.sendall(json.dumps(answer).encode() + b"\r\n")
            except OSError:
                pass
