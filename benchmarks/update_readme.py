"""Regenerate the README's benchmark table from a committed rapsam-bench report: the block
between ``<!-- rapsam-bench: PATH -->`` and ``<!-- /rapsam-bench -->``, where PATH is the
report.json the table comes from (tests/test_readme.py checks that the two agree).

    python benchmarks/update_readme.py [--report benchmarks/results/<run>/report.json]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from rapsam_deploy.artifacts.files import write_atomic
from rapsam_deploy.bench.report import headline

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"<!-- rapsam-bench: (?P<source>\S+) -->\n(?P<table>.*?)<!-- /rapsam-bench -->", re.S)


def render(source: str) -> str:
    """The block for the report at ``source`` (relative to the repository)."""
    report = json.loads((ROOT / source).read_text())
    return f"<!-- rapsam-bench: {source} -->\n{headline(report, str(Path(source).parent))}\n<!-- /rapsam-bench -->"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", help="report.json to take the table from (default: the one the README names)")
    args = parser.parse_args()
    readme = ROOT / "README.md"
    text = readme.read_text()
    found = BLOCK.search(text)
    if found is None:
        raise SystemExit("README.md has no <!-- rapsam-bench: PATH --> block")
    source = args.report or found["source"]
    write_atomic(readme, (text[: found.start()] + render(source) + text[found.end() :]).encode())
    print(f"README.md: benchmark table from {source}")


if __name__ == "__main__":
    main()
