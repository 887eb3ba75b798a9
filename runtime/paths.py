"""Guest path resolution: the sysroot (like qemu's -L) and the few /proc paths dbt answers.

An absolute guest path is looked up under the sysroot first; if nothing exists there, the host
path is used, so a dynamically linked program finds its libraries in the sysroot and still sees
the host's /tmp, /etc and home directories.
"""

from __future__ import annotations

import os


class PathMapper:
    """Which host file a guest path names, for the calls that read files (as qemu's path()).

    Calls that create, remove or rename files, and chdir, use the guest path as it is.
    """

    def __init__(self, sysroot: str | None) -> None:
        self.sysroot = os.path.abspath(sysroot) if sysroot else None
        #: Host path of the running guest program (what /proc/self/exe opens).
        self.exe: str | None = None
        #: Its guest path (what readlink("/proc/self/exe") answers).
        self.exe_guest: str | None = None

    def is_self_exe(self, path: str) -> bool:
        return path == "/proc/self/exe" or path == f"/proc/{os.getpid()}/exe"

    def host(self, path: str) -> str:
        """Host path for a guest path (relative paths are left to the host's cwd)."""
        if self.exe is not None and self.is_self_exe(path):
            return self.exe
        if self.sysroot and path.startswith("/"):
            candidate = self.sysroot + path
            if os.path.lexists(candidate):
                return candidate
        return path

    def host_bytes(self, path: bytes) -> bytes:
        return os.fsencode(self.host(os.fsdecode(path)))
