"""The C++ library (cpp/) under ctest, against reference data written here by the Python runtime.

Needs the CMake build that ``bash .ci/build_plugins.sh`` makes in ``build/`` (with nlohmann-json and
OpenCV's core, imgproc and imgcodecs installed, cpp/ is part of it). The tests skip with that
instruction where it is missing, and fail instead when RAPSAM_REQUIRE_PLUGINS=1 (CI builds it
first). ``RAPSAM_BUILD_DIR`` points them at another build folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import skip_unless_required
from cpp_reference import write_reference

ROOT = Path(__file__).resolve().parents[1]
BUILD = Path(os.environ.get("RAPSAM_BUILD_DIR", ROOT / "build"))
CONSUMER_TEST = "cpp_consumer_find_package"
BUILD_HINT = (
    "build it with `bash .ci/build_plugins.sh` after installing nlohmann-json and OpenCV "
    "(Debian: apt-get install nlohmann-json3-dev libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev)"
)


def _missing() -> str | None:
    """Why the C++ tests cannot run here, or None."""
    if shutil.which("ctest") is None:
        return "ctest is not on PATH (install CMake >= 3.22)"
    if not (BUILD / "CTestTestfile.cmake").is_file():
        return f"{BUILD} is not a configured CMake build: {BUILD_HINT}"
    if not (BUILD / "bin" / "rapsam_cpp_tests").is_file():
        return (
            f"{BUILD} has no C++ library tests (cpp/ was skipped at configure time, see CMake's output): {BUILD_HINT}"
        )
    return None


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = _missing()
    if reason:
        skip_unless_required("RAPSAM_REQUIRE_PLUGINS", reason)
    return write_reference(tmp_path_factory.mktemp("cpp_reference")).parent


def ctest(reference: Path, *selection: str) -> str:
    """Run ctest on BUILD with the reference data; fails the test with ctest's output if any test fails."""
    result = subprocess.run(
        ["ctest", "--test-dir", str(BUILD), "--output-on-failure", *selection],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "RAPSAM_CPP_REFERENCE": str(reference)},
        timeout=300,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0 or "100% tests passed" not in output:
        pytest.fail(f"ctest failed (exit {result.returncode}):\n{output}", pytrace=False)
    return output


def test_ctest_against_the_python_runtime(reference: Path) -> None:
    """Manifest and engine-file checks, pre/post-processing, prompts, the demo's parts and the
    fused op's CPU reference: every ctest test but the install check."""
    output = ctest(reference, "-E", CONSUMER_TEST)
    assert "cpp_postprocess" in output and "cpp_fused_op" in output


def test_find_package_from_an_install_prefix(reference: Path) -> None:
    """cmake --install into a scratch prefix, then a separate project with find_package(rapsam)."""
    ctest(reference, "-R", f"^{CONSUMER_TEST}$")
