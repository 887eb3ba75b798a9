"""Tier 1: hot regions compiled to native code through LLVM (see ARCHITECTURE.md)."""
