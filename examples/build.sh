#!/usr/bin/env sh
# Rebuilds the example guest shipped in the repository from the project's own C source.
set -eu
here=$(dirname "$0")
python -m ziglang cc -target riscv64-linux-musl -static -O2 -s "$here/../tests/guests/hello.c" -o "$here/hello-riscv64"
