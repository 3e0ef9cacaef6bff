"""How much memory a request may take: the machine's available memory, and a refusal that gives both numbers.

Available memory is ``MemAvailable`` of ``/proc/meminfo`` (what the kernel can hand out without
swapping), or the free physical pages where that file does not exist.
"""

from __future__ import annotations

import os
from pathlib import Path

from genmodels.errors import ResourceError

MEMINFO = Path("/proc/meminfo")


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation; None where the system does not say."""
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def require_memory(needed: int, what: str) -> None:
    """Refuse ``what`` when it needs more than the available memory, saying how much each is."""
    available = available_memory()
    if available is not None and needed > available:
        raise ResourceError(
            f"{what} needs about {format_bytes(needed)} of memory, but {format_bytes(available)} is available"
        )


def format_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(count) < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")
