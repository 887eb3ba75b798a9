"""The generated device tree against QEMU's own for the same machine (`-M virt,dumpdtb=`): every
node dbt describes is where QEMU puts it, with the same properties and values (phandles compared
by the nodes they point to). QEMU describes more devices than dbt has (virtio-mmio slots, the
RTC, fw_cfg, flash, PCIe, the PMU); those are left out of the comparison."""

from __future__ import annotations

import os
import shutil
import subprocess

import fdt
import pytest

from dbt.config import Config
from dbt.devices.service import Console
from dbt.runtime.system.machine import MachineConfig, SystemMachine

QEMU_SYSTEM = shutil.which("qemu-system-riscv64")
#: Properties whose values legitimately differ: the hart's ISA string and MMU (QEMU's hart has
#: more extensions, and an MMU dbt does not have yet), and QEMU's boot-time random seed.
SKIPPED = {("/cpus/cpu@0", "riscv,isa"), ("/cpus/cpu@0", "mmu-type"), ("/chosen", "rng-seed")}
PHANDLE_LISTS = {"interrupts-extended", "interrupt-parent", "regmap"}


def _resolved(tree: fdt.FDT) -> dict[str, dict[str, object]]:
    by_phandle = {}
    for path, _, props in tree.walk():
        for prop in props:
            if prop.name == "phandle":
                by_phandle[prop.value] = path
    nodes = {}
    for path, _, props in tree.walk():
        values = {}
        for prop in props:
            if prop.name == "phandle":
                continue
            data = list(prop.data) if hasattr(prop, "data") else None
            if prop.name in PHANDLE_LISTS and data:
                if prop.name == "interrupts-extended":
                    data = [(by_phandle.get(data[i]), data[i + 1]) for i in range(0, len(data), 2)]
                else:
                    data = [by_phandle.get(v) for v in data]
            values[prop.name] = data
        nodes[path] = values
    return nodes


def test_device_tree_matches_qemus(tmp_path):
    if QEMU_SYSTEM is None:
        if os.environ.get("DBT_REQUIRE_QEMU_REF") == "1":
            pytest.fail("qemu-system-riscv64 is not installed (.ci/run installs it)", pytrace=False)
        pytest.skip("qemu-system-riscv64 is not installed")
    dumped = tmp_path / "qemu.dtb"
    kernel = tmp_path / "k.bin"
    kernel.write_bytes(b"\x6f\x00\x00\x00")  # j . (never run)
    qemu = [QEMU_SYSTEM, "-M", f"virt,dumpdtb={dumped}", "-m", "256M", "-nographic", "-bios", "none",
            "-kernel", str(kernel), "-append", "console=ttyS0 quiet"]  # fmt: skip
    subprocess.run(qemu, capture_output=True, check=True, timeout=60)
    machine = SystemMachine(
        MachineConfig(ram_size=256 << 20, bios=None, kernel=str(kernel), append="console=ttyS0 quiet"),
        Config(no_jit=True),
        Console(out_fd=1),
    )
    ours_blob = machine.memory.ram[machine.fdt_address : machine.fdt_address + 0x10000].tobytes()
    ours_tree = fdt.parse_dtb(ours_blob[: int.from_bytes(ours_blob[4:8], "big")])
    qemus_tree = fdt.parse_dtb(dumped.read_bytes())
    # the order of the virtio nodes is the order guests number the devices in
    virtio_order = [[n.name for n in tree.get_node("/soc").nodes if n.name.startswith("virtio")]
                    for tree in (ours_tree, qemus_tree)]  # fmt: skip
    assert virtio_order[0] == virtio_order[1]
    ours, qemus = _resolved(ours_tree), _resolved(qemus_tree)
    for path, props in ours.items():
        assert path in qemus, f"QEMU has no {path}"
        for name, value in props.items():
            if (path, name) in SKIPPED:
                continue
            assert name in qemus[path], f"QEMU's {path} has no {name}"
            assert value == qemus[path][name], (path, name)
