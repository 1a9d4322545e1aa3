"""The README's benchmark table is the one generated from the committed report it names."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import update_readme  # noqa: E402


def test_readme_benchmark_table_is_generated_from_its_report():
    found = update_readme.BLOCK.search((ROOT / "README.md").read_text())
    assert found is not None, "README.md has no <!-- rapsam-bench: PATH --> block"
    assert (ROOT / found["source"]).is_file(), found["source"]
    assert found.group(0) == update_readme.render(found["source"]), "run: python benchmarks/update_readme.py"
