"""The C++ library's parsers under libFuzzer, in benchmarks/fuzz.sh's short form: the fuzz targets
of cpp/fuzz built with clang-14 and AddressSanitizer/UndefinedBehaviorSanitizer, seeded with real
files, and run for ``RAPSAM_FUZZ_SECONDS`` (default 20) each; any crash, leak, hang or huge
allocation fails the test with where its input is. Skips where clang-14 with libFuzzer is not
installed, and fails instead when RAPSAM_REQUIRE_FUZZ=1 (CI installs it). Deselect with
``-m "not fuzz"``; the long form (10 minutes a parser) is ``bash benchmarks/fuzz.sh 600``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import skip_unless_required

ROOT = Path(__file__).resolve().parents[1]
PARSERS = ("manifest", "engine_sidecar", "npy", "image")
SECONDS = int(os.environ.get("RAPSAM_FUZZ_SECONDS", "20"))
MISSING_TOOLCHAIN = 3  # fuzz.sh's exit status when clang-14 with libFuzzer is not installed


@pytest.mark.fuzz
def test_every_parser_fuzzes_clean(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "fuzz.sh"), str(SECONDS), str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
        timeout=900,
    )
    if result.returncode == MISSING_TOOLCHAIN:
        skip_unless_required("RAPSAM_REQUIRE_FUZZ", result.stderr.strip())
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"fuzz.sh failed (exit {result.returncode}):\n{output}"
    summary = (tmp_path / "summary.txt").read_text()
    for parser in PARSERS:
        found = re.search(rf"^{parser}: \d+ s, (\d+) executions, clean$", summary, re.MULTILINE)
        assert found and int(found[1]) > 0, f"{parser} did not run:\n{summary}"
