"""The device tree of the virt machine, generated for its configuration (the `fdt` package),
laid out as QEMU's virt machine lays out its own so that firmware and kernels built for QEMU
find the same devices at the same places.
Stage: devices.
"""

from __future__ import annotations

from dataclasses import dataclass

import fdt

CPU_INTC_PHANDLE, PLIC_PHANDLE, TEST_PHANDLE = 1, 2, 3
IRQ_S_SOFT, IRQ_M_SOFT, IRQ_S_TIMER, IRQ_M_TIMER, IRQ_S_EXT, IRQ_M_EXT = 1, 3, 5, 7, 9, 11


@dataclass(frozen=True)
class Layout:
    """What the tree describes: the memory map and the boot arguments."""

    ram_base: int
    ram_size: int
    isa: str
    mmu_type: str | None
    timebase_hz: int
    clint: tuple[int, int]
    plic: tuple[int, int]
    plic_sources: int
    uart: tuple[int, int]
    uart_irq: int
    finisher: tuple[int, int]
    bootargs: str = ""
    initrd: tuple[int, int] | None = None
    #: VirtIO-MMIO slots: (base, size, PLIC source).
    virtio: tuple[tuple[int, int, int], ...] = ()


def _reg(base: int, size: int) -> fdt.PropWords:
    return fdt.PropWords("reg", base >> 32, base & 0xFFFFFFFF, size >> 32, size & 0xFFFFFFFF)


def _node(name: str, *props: fdt.Property) -> fdt.Node:
    node = fdt.Node(name)
    for prop in props:
        node.append(prop)
    return node


def build_dtb(layout: Layout) -> bytes:
    """The flattened device tree blob (version 17)."""
    tree = fdt.FDT()
    root = tree.root
    for prop in (
        fdt.PropWords("#address-cells", 2),
        fdt.PropWords("#size-cells", 2),
        fdt.PropStrings("compatible", "riscv-virtio"),
        fdt.PropStrings("model", "riscv-virtio,qemu"),
    ):
        root.append(prop)

    intc = _node(
        "interrupt-controller",
        fdt.PropWords("#interrupt-cells", 1),
        fdt.Property("interrupt-controller"),
        fdt.PropStrings("compatible", "riscv,cpu-intc"),
        fdt.PropWords("phandle", CPU_INTC_PHANDLE),
    )
    cpu_props = [
        fdt.PropStrings("device_type", "cpu"),
        fdt.PropWords("reg", 0),
        fdt.PropStrings("status", "okay"),
        fdt.PropStrings("compatible", "riscv"),
        fdt.PropStrings("riscv,isa", layout.isa),
    ]
    if layout.mmu_type:
        cpu_props.append(fdt.PropStrings("mmu-type", layout.mmu_type))
    cpu = _node("cpu@0", *cpu_props)
    cpu.append(intc)
    cpus = _node(
        "cpus",
        fdt.PropWords("#address-cells", 1),
        fdt.PropWords("#size-cells", 0),
        fdt.PropWords("timebase-frequency", layout.timebase_hz),
    )
    cpus.append(cpu)
    root.append(cpus)

    root.append(
        _node(
            f"memory@{layout.ram_base:x}",
            fdt.PropStrings("device_type", "memory"),
            _reg(layout.ram_base, layout.ram_size),
        )
    )

    soc = _node(
        "soc",
        fdt.PropWords("#address-cells", 2),
        fdt.PropWords("#size-cells", 2),
        fdt.PropStrings("compatible", "simple-bus"),
        fdt.Property("ranges"),
    )
    finisher_base, finisher_size = layout.finisher
    soc.append(
        _node(
            f"test@{finisher_base:x}",
            fdt.PropStrings("compatible", "sifive,test1", "sifive,test0", "syscon"),
            _reg(finisher_base, finisher_size),
            fdt.PropWords("phandle", TEST_PHANDLE),
        )
    )
    root.append(
        _node(
            "poweroff",
            fdt.PropStrings("compatible", "syscon-poweroff"),
            fdt.PropWords("regmap", TEST_PHANDLE),
            fdt.PropWords("offset", 0),
            fdt.PropWords("value", 0x5555),
        )
    )
    root.append(
        _node(
            "reboot",
            fdt.PropStrings("compatible", "syscon-reboot"),
            fdt.PropWords("regmap", TEST_PHANDLE),
            fdt.PropWords("offset", 0),
            fdt.PropWords("value", 0x7777),
        )
    )
    # Highest address first, as QEMU writes them: a guest numbers the devices in this order
    # (U-Boot's virtio-net#0 and Linux's vda are the device in the top slot, the first plugged).
    for base, size, irq in sorted(layout.virtio, reverse=True):
        soc.append(
            _node(
                f"virtio_mmio@{base:x}",
                fdt.PropWords("interrupts", irq),
                fdt.PropWords("interrupt-parent", PLIC_PHANDLE),
                _reg(base, size),
                fdt.PropStrings("compatible", "virtio,mmio"),
            )
        )
    uart_base, uart_size = layout.uart
    soc.append(
        _node(
            f"serial@{uart_base:x}",
            fdt.PropWords("interrupts", layout.uart_irq),
            fdt.PropWords("interrupt-parent", PLIC_PHANDLE),
            fdt.PropWords("clock-frequency", 0x384000),
            _reg(uart_base, uart_size),
            fdt.PropStrings("compatible", "ns16550a"),
        )
    )
    plic_base, plic_size = layout.plic
    soc.append(
        _node(
            f"plic@{plic_base:x}",
            fdt.PropWords("phandle", PLIC_PHANDLE),
            fdt.PropWords("riscv,ndev", layout.plic_sources - 1),
            _reg(plic_base, plic_size),
            fdt.PropWords("interrupts-extended", CPU_INTC_PHANDLE, IRQ_M_EXT, CPU_INTC_PHANDLE, IRQ_S_EXT),
            fdt.Property("interrupt-controller"),
            fdt.PropStrings("compatible", "sifive,plic-1.0.0", "riscv,plic0"),
            fdt.PropWords("#address-cells", 0),
            fdt.PropWords("#interrupt-cells", 1),
        )
    )
    clint_base, clint_size = layout.clint
    soc.append(
        _node(
            f"clint@{clint_base:x}",
            fdt.PropWords("interrupts-extended", CPU_INTC_PHANDLE, IRQ_M_SOFT, CPU_INTC_PHANDLE, IRQ_M_TIMER),
            _reg(clint_base, clint_size),
            fdt.PropStrings("compatible", "sifive,clint0", "riscv,clint0"),
        )
    )
    root.append(soc)

    chosen = _node("chosen", fdt.PropStrings("stdout-path", f"/soc/serial@{uart_base:x}"))
    if layout.bootargs:
        chosen.append(fdt.PropStrings("bootargs", layout.bootargs))
    if layout.initrd is not None:
        start, end = layout.initrd
        chosen.append(fdt.PropWords("linux,initrd-start", start >> 32, start & 0xFFFFFFFF))
        chosen.append(fdt.PropWords("linux,initrd-end", end >> 32, end & 0xFFFFFFFF))
    root.append(chosen)
    return tree.to_dtb(version=17)
