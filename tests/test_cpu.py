"""``precision="auto"``: the inference path chosen from the CPU's features (flags faked here)."""

import pytest

from modcls.engines.cpu import CpuInfo, auto_precision, cpu_info, read_cpuinfo
from modcls.inference import Predictor, resolve_precision

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9B45
flags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni avx_vnni

processor\t: 1
model name\t: ignored
"""


def test_read_cpuinfo_takes_the_first_block_and_known_flags():
    info = read_cpuinfo(CPUINFO)
    assert info.model == "AMD EPYC 9B45"
    assert info.flags == {"avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni"}
    assert "avx512_bf16" in info.describe() and "sse" not in info.describe()


@pytest.mark.parametrize(
    "flags, expected",
    [
        ({"amx_tile", "amx_bf16", "amx_int8", "avx512_bf16", "avx512_vnni"}, "fast"),  # Intel with AMX
        ({"avx512f", "avx512_bf16", "avx512_vnni"}, "fast"),  # AMD Zen 4/5
        ({"avx512f", "avx512_vnni"}, "int8"),  # Cascade Lake
        ({"avx2", "avx_vnni"}, "int8"),  # Alder Lake
        ({"avx2"}, "fast"),  # float32 compact engine
        (set(), "fast"),
    ],
)
def test_auto_precision_by_cpu_flags(flags, expected):
    assert auto_precision(CpuInfo("test CPU", frozenset(flags))) == expected


def test_auto_resolves_on_this_machine_and_is_recorded(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MODCLS_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("modcls.engines.cpu.cpu_info", lambda: CpuInfo("test CPU", frozenset({"avx512_vnni"})))
    assert resolve_precision("auto") == "int8"
    predictor = Predictor.from_pretrained(tiny_model_dir, precision="auto")
    assert predictor.precision == "int8" and predictor.engine_info.startswith("int8 (")
    assert cpu_info().model  # the real CPU is readable


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="unknown precision"):
        resolve_precision("fp16")
