"""The allocator tuning the server applies at start (glibc; a no-op elsewhere)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from athena_mcp import native_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_freed_memory_goes_back_to_the_system() -> None:
    # Of ~160 MB of small blocks (below the mmap threshold) freed together, glibc hands back about
    # 110 MB on its own (the top of its heap); the rest stays in the heap until trimmed.
    code = (
        "from athena_mcp import native_memory\n"
        "native_memory.tune_for_server()\n"
        "def rss():\n"
        "    return int(open('/proc/self/status').read().split('VmRSS:')[1].split()[0]) // 1024\n"
        "blocks = [bytearray(4096) for _ in range(40_000)]\n"
        "held = rss()\n"
        "del blocks\n"
        "native_memory.return_freed_memory()\n"
        "print(held - rss())\n"
    )
    freed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(freed.stdout) >= 140


def test_off_glibc_the_calls_do_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native_memory, "_glibc", lambda: None)
    native_memory.tune_for_server()
    native_memory.return_freed_memory()
