"""Snapshots of a whole virt machine in one file: RAM (the pages that are not zero), the registers
and state words, the hart's privileged state, and the devices' registers. A snapshot loads into a
machine built with the same configuration (RAM size, firmware, kernel), which then goes on from
where the saved one was; mtime continues from its saved value.
Stage: runtime (system mode).
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import zipfile

import numpy as np

from dbt.errors import VmError
from dbt.ir.state import PAGE_SIZE

#: Bumped whenever the state array's layout changes (2: the TLB metadata and the hart's CSR words).
FORMAT = "dbt-snapshot-2"
_HART_SKIP = {"instret", "mtime", "on_translation_change", "words"}  # (words: in the state array)
_TRANSPORT_FIELDS = ("status", "device_features_sel", "driver_features_sel", "driver_features", "queue_sel",
                     "interrupt_status", "notified")  # fmt: skip


def _hart_fields(hart) -> dict:
    return {f.name: getattr(hart, f.name) for f in dataclasses.fields(hart) if f.name not in _HART_SKIP}


def capture(machine, ram: bool = True) -> tuple[dict, dict]:
    """The machine's state as JSON-able metadata and numpy arrays (RAM's non-zero pages only
    with `ram`)."""
    arrays = {"regs": machine.regs.copy(), "state": machine.state.copy()}
    if ram:
        ram_base, ram_size = machine.ram_base, machine.machine.ram_size
        pages = machine.memory.ram[ram_base : ram_base + ram_size].reshape(-1, PAGE_SIZE)
        used = np.flatnonzero(pages.any(axis=1))
        arrays.update(page_numbers=used, pages=pages[used])
    plic, uart, clint = machine.plic, machine.uart, machine.clint
    meta = {
        "format": FORMAT,
        "machine": dataclasses.asdict(machine.machine),
        "hart": _hart_fields(machine.hart),
        "clint": {"msip": clint.msip, "mtimecmp": clint.mtimecmp, "mtime": clint.mtime},
        "plic": {
            k: getattr(plic, k) for k in ("priority", "level", "pending", "claimed", "enable", "threshold")
        },
        "uart": {
            **{
                k: getattr(uart, k)
                for k in ("ier", "lcr", "mcr", "scr", "fcr", "dll", "dlm", "thr_interrupt")
            },
            "rx": list(uart.rx),
        },
        "console_input": list(machine.console.input),
        "virtio": [
            {
                **{k: getattr(t, k) for k in _TRANSPORT_FIELDS},
                "queues": [dataclasses.asdict(q) for q in t.queues],
            }
            for t, _ in machine.devices.virtio
        ],
        "htif": [
            (base, bytes(dev.page).hex(), dev.fromhost)
            for base, _, dev in machine.bus.regions
            if dev.name == "htif"
        ],
    }
    return copy.deepcopy(meta), arrays


def save(machine, path: str) -> None:
    meta, parts = capture(machine)
    arrays = io.BytesIO()
    np.savez(arrays, **parts)
    try:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("machine.json", json.dumps(meta))
            archive.writestr("arrays.npz", arrays.getvalue())
    except OSError as exc:
        raise VmError(f"cannot write the snapshot {path}: {exc.strerror}") from None


def load(machine, path: str) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            meta = json.loads(archive.read("machine.json"))
            arrays = np.load(io.BytesIO(archive.read("arrays.npz")))
            arrays = {name: arrays[name] for name in arrays.files}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise VmError(f"cannot read the snapshot {path}: {exc}") from None
    found = str(meta.get("format"))
    if found.startswith("dbt-snapshot-") and found != FORMAT:
        raise VmError(f"the snapshot {path} was written by another version of dbt ({found}, not {FORMAT})")
    if found != FORMAT or len(arrays.get("state", ())) != len(machine.state):
        raise VmError(f"{path} is not a dbt snapshot")
    if meta["machine"] != json.loads(json.dumps(dataclasses.asdict(machine.machine))):
        raise VmError(f"the snapshot {path} is of a machine with another configuration: {meta['machine']}")
    restore(machine, meta, arrays)


def restore(machine, meta: dict, arrays: dict, devices_only: bool = False) -> None:
    """Put a captured state back (RAM too if it was captured). `devices_only` (a reset): the
    devices' registers alone; the hart, the registers, mtime and the console's pending input
    are left to the caller."""
    if "pages" in arrays:
        ram_base, ram_size = machine.ram_base, machine.machine.ram_size
        pages = machine.memory.ram[ram_base : ram_base + ram_size].reshape(-1, PAGE_SIZE)
        pages[:] = 0
        pages[arrays["page_numbers"]] = arrays["pages"]
    if not devices_only:
        machine.regs[:] = arrays["regs"]
        machine.state[:] = arrays["state"]
        for name, value in meta["hart"].items():
            setattr(machine.hart, name, copy.deepcopy(value))
    clint = machine.clint
    clint.msip, clint.mtimecmp = meta["clint"]["msip"], meta["clint"]["mtimecmp"]
    if not devices_only:
        clint.offset = 0
        clint.offset = (meta["clint"]["mtime"] - clint.mtime) & ((1 << 64) - 1)
    for name, value in meta["plic"].items():
        setattr(machine.plic, name, copy.deepcopy(value))
    machine.plic.raised = [s for s in range(len(machine.plic.pending))
                           if machine.plic.pending[s] or machine.plic.claimed[s]]  # fmt: skip
    for name, value in meta["uart"].items():
        if name == "rx":
            machine.uart.rx.clear()
            machine.uart.rx.extend(value)
        else:
            setattr(machine.uart, name, value)
    if not devices_only:
        machine.console.input[:] = bytes(meta["console_input"])
    for (transport, _), saved in zip(machine.devices.virtio, meta["virtio"]):
        for name in _TRANSPORT_FIELDS:
            setattr(transport, name, copy.deepcopy(saved[name]))
        for queue, fields in zip(transport.queues, saved["queues"]):
            for name, value in fields.items():
                setattr(queue, name, copy.deepcopy(value))
    htifs = {base: dev for base, _, dev in machine.bus.regions if dev.name == "htif"}
    for base, page, fromhost in meta["htif"]:
        if base in htifs:
            htifs[base].page[:] = bytes.fromhex(page)
            htifs[base].fromhost = fromhost
    machine.cache.flush()  # decoded blocks (and compiled regions) of the old memory
    machine.softmmu.flush()  # translations of the old page tables
    machine.devices.rearm("mtimecmp", clint.mtimecmp)
    machine.devices.rearm("stimecmp", machine.hart.stimecmp if machine.hart.sstc else (1 << 64) - 1)
    machine.devices.update_interrupts()
