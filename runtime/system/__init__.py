"""System mode: a virt machine (hart, physical memory, devices, event loop, runtime service)."""
