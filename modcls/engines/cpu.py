"""What this CPU computes natively, and the inference path ``precision="auto"`` picks from it.

Read from ``/proc/cpuinfo`` (Linux) without importing torch; elsewhere torch's own probes fill in.
The choice, by measurement on 2-core machines (see the README's Performance section):

* AMX tiles (Intel Sapphire Rapids and later): ``fast`` — the compact engine in bfloat16, AMX's strength;
* AVX-512 BF16 without AMX (AMD Zen 4/5): ``fast`` as well — on these CPUs the bfloat16 products ran as fast
  as int8 ones and closer to float32's scores;
* int8 dot products (AVX-512 VNNI or AVX-VNNI) without native bfloat16: ``int8`` — the compact engine with
  int8 projections;
* anything else: ``fast`` in float32 (same scores as fp32, fused and pruned).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

#: Flags that matter to the choice, as /proc/cpuinfo spells them.
FLAGS = ("amx_tile", "amx_bf16", "amx_int8", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "avx2")


@dataclass(frozen=True)
class CpuInfo:
    """The CPU's model name and the instruction-set flags of :data:`FLAGS` it has."""

    model: str
    flags: frozenset[str]

    @property
    def amx(self) -> bool:
        return "amx_tile" in self.flags

    @property
    def native_bf16(self) -> bool:
        return self.amx or "avx512_bf16" in self.flags

    @property
    def int8_dot(self) -> bool:
        return bool({"avx512_vnni", "avx_vnni", "amx_int8"} & self.flags)

    def describe(self) -> str:
        """``model [flags]``, for logs and benchmark headers."""
        shown = [f for f in FLAGS if f in self.flags]
        return f"{self.model} [{' '.join(shown) or 'no AVX-512/VNNI/AMX'}]"


def read_cpuinfo(text: str) -> CpuInfo:
    """Parse the first processor block of a ``/proc/cpuinfo`` text."""
    model, flags = "", frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = frozenset(value.split()) & frozenset(FLAGS)
    return CpuInfo(model or platform.processor() or "unknown CPU", flags)


def cpu_info() -> CpuInfo:
    """This machine's CPU (``/proc/cpuinfo``; torch's probes where that file is absent)."""
    path = Path("/proc/cpuinfo")
    if path.is_file():
        return read_cpuinfo(path.read_text(encoding="utf-8", errors="replace"))
    import torch  # macOS, Windows: ask torch what it can use

    cpu = getattr(torch, "cpu", None)
    flags = set()
    for flag, probe in (("amx_tile", "_is_amx_tile_supported"), ("avx512_bf16", "_is_avx512_bf16_supported"),
                        ("avx512_vnni", "_is_avx512_vnni_supported"), ("avx_vnni", "_is_avx_vnni_supported")):
        if bool(getattr(cpu, probe, lambda: False)()):
            flags.add(flag)
    return CpuInfo(platform.processor() or "unknown CPU", frozenset(flags))


def auto_precision(info: CpuInfo | None = None) -> str:
    """The inference path ``precision="auto"`` resolves to on ``info`` (default: this CPU)."""
    info = info or cpu_info()
    if info.native_bf16:
        return "fast"
    if info.int8_dot:
        return "int8"
    return "fast"
