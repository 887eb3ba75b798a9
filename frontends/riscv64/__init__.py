"""riscv64"""
