"""Bad input to every command meets one clear message: ``error:`` saying what is wrong and what
to do, a non-zero exit (1; 2 for what the parser itself refuses), no traceback, and nothing
written, not even in part. ``CASES`` is the README's table ("Bad input"); print it with
``python tests/test_bad_input.py``.

Each case runs in a fresh folder holding (as links) the inputs below, so that the paths in the
command lines and messages are the short ones the README shows.
"""

from __future__ import annotations

import errno
import hashlib
import importlib
import json
import os
import shutil
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from rapsam_deploy.artifacts import contract
from rapsam_deploy.artifacts.manifest import Artifact, Manifest, write_manifest
from rapsam_deploy.cli import common
from rapsam_deploy.errors import RapSamError

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    f"rapsam-{name}": importlib.import_module(f"rapsam_deploy.cli.{name}")
    for name in ("export", "build", "infer", "bench", "eval", "serve")
}
READ_ONLY = "{read-only}"  # a folder in which nothing can be created (README: <read-only dir>)


def infer(image: str = "ok.png", export: str = "export", output: str = "out") -> str:
    """A rapsam-infer command line."""
    return f"{image} --export-dir {export} --output {output}"


INFER = infer()


@dataclass(frozen=True)
class Case:
    case: str  # what is wrong, as the README says it
    command: str
    argv: str  # split on spaces
    message: str  # the part of the message that says what is wrong
    code: int = common.EXIT_ERROR
    as_root: bool = True  # False: root reads every file, so the case cannot happen as root


CASES = [
    # rapsam-export: options, the checkpoint and the output, all before the model is built
    Case("unknown backbone", "rapsam-export", "--backbone r99", "invalid choice: 'r99'", common.EXIT_USAGE),
    Case("image size not a multiple of 32", "rapsam-export", "--image-size 100 128 --output out",
         "--image-size 100 128: both must be positive multiples of 32"),
    Case("image size zero", "rapsam-export", "--image-size 0 128 --output out",
         "--image-size 0 128: both must be positive multiples of 32"),
    Case("image size negative", "rapsam-export", "--image-size -32 128 --output out",
         "--image-size -32 128: both must be positive multiples of 32"),
    Case("opset too old", "rapsam-export", "--opset 16 --output out", "--opset 16 is too old"),
    Case("checkpoint missing", "rapsam-export", "--checkpoint missing.pth --output out",
         "--checkpoint missing.pth does not exist"),
    Case("checkpoint is a folder", "rapsam-export", "--checkpoint folder --output out",
         "--checkpoint folder is not a file"),
    Case("checkpoint empty (0 bytes)", "rapsam-export", "--checkpoint empty.pth --output out",
         "--checkpoint empty.pth is empty"),
    Case("checkpoint unreadable (no read permission)", "rapsam-export", "--checkpoint unreadable.pth --output out",
         "--checkpoint unreadable.pth cannot be read (Permission denied)", as_root=False),
    Case("checkpoint not a PyTorch file", "rapsam-export", "--checkpoint random.pth --output out",
         "--checkpoint random.pth is not a PyTorch file"),
    Case("checkpoint truncated", "rapsam-export", "--checkpoint truncated.pth --output out",
         "checkpoint truncated.pth is truncated or not a PyTorch file"),
    Case("class embedding not a PyTorch file", "rapsam-export", "--class-embed random.pth --output out",
         "--class-embed random.pth is not a PyTorch file"),
    Case("output exists", "rapsam-export", "--output folder", "folder already exists"),
    Case("output is a file", "rapsam-export", "--output file.txt --force", "file.txt exists and is not a directory"),
    Case("output below a file", "rapsam-export", "--output file.txt/out", "file.txt is not a writable directory"),
    Case("output in a read-only folder", "rapsam-export", f"--output {READ_ONLY}/out",
         "is not a writable directory"),
    # rapsam-infer: images, prompts and options, all before the model loads
    Case("image missing", "rapsam-infer", infer("missing.png"), "missing.png does not exist"),
    Case("image empty (0 bytes)", "rapsam-infer", infer("empty.png"), "image empty.png is empty"),
    Case("image is text named .jpg", "rapsam-infer", infer("text.jpg"),
         "text.jpg cannot be decoded as an image"),
    Case("image truncated", "rapsam-infer", infer("cut.png"), "cut.png is truncated"),
    Case("image header of 10^10 pixels", "rapsam-infer", infer("huge.png"),
         "huge.png cannot be decoded: its header says more pixels than OpenCV decodes"),
    Case("folder with a broken image among others", "rapsam-infer", infer("mixed"),
         "broken.jpg cannot be decoded as an image"),
    Case("folder without images", "rapsam-infer", infer("folder"), "folder holds no images"),
    Case("point of 3 numbers", "rapsam-infer", f"{INFER} --points 1,2,3", "bad point '1,2,3'"),
    Case("point of letters", "rapsam-infer", f"{INFER} --points a,b", "bad point 'a,b'"),
    Case("point NaN", "rapsam-infer", f"{INFER} --points nan,5", "bad point 'nan,5'"),
    Case("box with infinity", "rapsam-infer", f"{INFER} --boxes 0,0,inf,5", "bad box '0,0,inf,5'"),
    Case("point outside the image", "rapsam-infer", f"{INFER} --points 80,5",
         "ok.png: points [[80.0, 5.0]] are outside the 80x64 image"),
    Case("box with x2 < x1", "rapsam-infer", f"{INFER} --boxes 30,10,20,40", "ok.png: a box needs x2 > x1 and y2 > y1"),
    Case("box outside the image", "rapsam-infer", f"{INFER} --boxes 100,10,120,40",
         "ok.png: a box lies entirely outside the 80x64 image"),
    Case("zero threads", "rapsam-infer", f"{INFER} --threads 0", "--threads 0: must be at least 1"),
    Case("zero clip size", "rapsam-infer", f"{INFER} --clip-size 0", "--clip-size 0: must be at least 1"),
    Case("unknown backend", "rapsam-infer", f"{INFER} --backend fast", "invalid choice: 'fast'", common.EXIT_USAGE),
    Case("unknown resize", "rapsam-infer", f"{INFER} --resize long:big", "bad resize 'long:big'"),
    Case("output is a file", "rapsam-infer", infer(output="file.txt"), "file.txt is not a writable directory"),
    Case("output in a read-only folder", "rapsam-infer", infer(output=f"{READ_ONLY}/out"),
         "is not a writable directory"),
    # the export directory, as every command reads it (here through rapsam-infer)
    Case("export directory missing", "rapsam-infer", infer(export="missing"),
         "export directory missing does not exist"),
    Case("export directory is a file", "rapsam-infer", infer(export="file.txt"),
         "export directory file.txt is not a directory"),
    Case("manifest.json missing", "rapsam-infer", infer(export="no-manifest"),
         "no-manifest has no manifest.json"),
    Case("manifest.json not JSON", "rapsam-infer", infer(export="not-json"),
         "not-json/manifest.json is not valid JSON"),
    Case("manifest.json of another version", "rapsam-infer", infer(export="other-version"),
         "other-version/manifest.json is not a rapsam-deploy manifest of version 1"),
    Case("graph file missing", "rapsam-infer", infer(export="missing-graph"),
         "missing-graph/encoder.onnx is missing from the export"),
    Case("graph file changed (sha256)", "rapsam-infer", infer(export="changed-graph"),
         "changed-graph/encoder.onnx does not match manifest.json"),
    Case("graph file not ONNX (manifest edited to match)", "rapsam-infer", infer(export="not-onnx"),
         "not-onnx/encoder.onnx is not an ONNX model"),
    Case("precision not exported", "rapsam-infer", f"{INFER} --precision fp16",
         "the export has no standard/fp16 encoder graph"),
    # rapsam-build: everything but the graphs is checked before TensorRT is imported
    Case("no TensorRT here", "rapsam-build", "export", "TensorRT is not available here"),
    Case("unknown precision", "rapsam-build", "export --precision fp8", "invalid choice: 'fp8'", common.EXIT_USAGE),
    Case("negative workspace", "rapsam-build", "export --workspace -1", "--workspace -1.0: must be > 0 GiB"),
    Case("profile min > max", "rapsam-build", "export --profile-batch 4 2 1", "profile B = (4, 2, 1)"),
    Case("engine folder is a file", "rapsam-build", "export --output file.txt", "file.txt is not a writable directory"),
    Case("timing cache is a folder", "rapsam-build", "export --timing-cache folder",
         "--timing-cache folder is a directory"),
    Case("timing cache in a read-only folder", "rapsam-build", f"export --timing-cache {READ_ONLY}/t.cache",
         "is not a writable directory"),
    # rapsam-bench
    Case("zero iterations", "rapsam-bench", "--iters 0 --out out", "--iters 0: must be at least 1"),
    Case("negative warm-up", "rapsam-bench", "--warmup -1 --out out", "--warmup -1: must be at least 0"),
    Case("zero batch", "rapsam-bench", "--batch 0 --out out", "--batch 0: must be at least 1"),
    Case("zero prompts", "rapsam-bench", "--prompts 0 --out out", "--prompts 0: must be at least 1"),
    Case("zero frames", "rapsam-bench", "--frames 0 --out out", "--frames 0: must be at least 1"),
    Case("negative minimum time", "rapsam-bench", "--min-time -1 --out out", "--min-time -1.0: must be at least 0"),
    Case("unknown backbone in a list", "rapsam-bench", "--backbones r18,r99 --out out", "unknown backbone 'r99'"),
    Case("unknown backend in a list", "rapsam-bench", "--backends onnxruntime,fast --out out",
         "--backends: unknown 'fast'"),
    Case("unknown precision in a list", "rapsam-bench", "--precision fp32,fp8 --out out", "--precision: unknown 'fp8'"),
    Case("image size not a multiple of 32", "rapsam-bench", "--image-size 100 128 --out out",
         "--image-size 100 128: positive multiples of 32 please"),
    Case("report folder is a file", "rapsam-bench", "--out file.txt", "file.txt is not a writable directory"),
    Case("served: zero clients", "rapsam-bench", "--server localhost:1 --concurrency 0 --out out",
         "--concurrency values and --duration must be positive"),
    Case("served: clients not a number", "rapsam-bench", "--server localhost:1 --concurrency 1,x --out out",
         "--concurrency 1,x: whole numbers please"),
    # rapsam-eval: the dataset is read before the model loads
    Case("dataset missing", "rapsam-eval", "--task panoptic --data missing --out out", "--data missing does not exist"),
    Case("annotations not JSON", "rapsam-eval", "--task panoptic --data notes.json --out out",
         "notes.json is not valid JSON"),
    Case("annotations a JSON list", "rapsam-eval", "--task prompt --data list.json --out out",
         "list.json is not an annotation file"),
    Case("JSON not COCO panoptic", "rapsam-eval", "--task panoptic --data other.json --out out",
         "other.json lacks"),
    Case("JSON not YouTube-VIS", "rapsam-eval", "--task video --data other.json --out out",
         "other.json lacks"),
    Case("image file as annotations", "rapsam-eval", "--task panoptic --data ok.png --out out",
         "ok.png is not valid JSON"),
    Case("unknown task", "rapsam-eval", "--task depth --data other.json", "invalid choice: 'depth'", common.EXIT_USAGE),
    Case("zero limit", "rapsam-eval", "--task panoptic --data other.json --limit 0 --out out",
         "--limit 0: must be at least 1"),
    Case("negative tolerance", "rapsam-eval", "--task panoptic --data other.json --tolerance -1 --out out",
         "--tolerance -1.0: must be at least 0"),
    Case("report folder in a read-only folder", "rapsam-eval", f"--task panoptic --data other.json --out {READ_ONLY}/r",
         "is not a writable directory"),
    # rapsam-serve repository
    Case("repository folder is a file", "rapsam-serve", "repository export --output file.txt --force",
         "file.txt exists and is not a directory"),
]  # fmt: skip


def readme_table() -> str:
    """The README's table of ``CASES``."""
    lines = ["| case | command line | message: the part that says what is wrong |", "| --- | --- | --- |"]
    for c in CASES:
        argv = c.argv.replace(READ_ONLY, "<read-only dir>")
        code = "" if c.code == common.EXIT_ERROR else f" (exit {c.code})"
        lines.append(f"| {c.case} | `{c.command} {argv}` | `{c.message}`{code} |")
    return "\n".join(lines)


# ---- the inputs ----------------------------------------------------------------------------


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels (and holds almost none)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_export(directory: Path) -> None:
    """An export directory of fp32 standard graphs whose files are stand-ins with the ONNX's
    first byte and the manifest's sha256: every check before a graph runs passes."""
    directory.mkdir()
    artifacts = []
    for spec in contract.GRAPHS:
        data = b"\x08 stand-in for " + spec.name.encode()
        (directory / spec.file_name).write_bytes(data)
        tensors = {
            "inputs": [{"name": n} for n in spec.input_names],
            "outputs": [{"name": n} for n in spec.output_names],
        }
        artifacts.append(
            Artifact(spec.name, spec.file_name, "standard", "fp32", sha256(data), len(data), 19, **tensors)
        )
    np.save(directory / contract.OBJECT_QUERIES_FILE, np.zeros((10, contract.CHANNELS), np.float32))
    queries = (directory / contract.OBJECT_QUERIES_FILE).read_bytes()
    profiles = {"B": (1, 1, 2), "H": (128, 128, 1344), "W": (128, 128, 1344), "N": (1, 100, 256), "T": (1, 1, 5)}
    manifest = Manifest(
        model={"backbone": "r18", "num_classes": 8},
        image={},
        prompts={},
        vocabulary={"name": "test", "classes": [f"class{i}" for i in range(8)], "num_things": 5},
        profiles={axis: dict(zip(("min", "opt", "max"), v, strict=True)) for axis, v in profiles.items()},
        object_queries={"file": contract.OBJECT_QUERIES_FILE, "sha256": sha256(queries), "shape": [10, 256]},
        artifacts=artifacts,
        validation={},
        tools={},
        created="2026-01-01T00:00:00+00:00",
    )
    write_manifest(manifest, directory)


def write_broken_exports(root: Path) -> None:
    """Copies of ``root/export``, each broken in one way."""
    for name in ("no-manifest", "not-json", "other-version", "missing-graph", "changed-graph", "not-onnx"):
        shutil.copytree(root / "export", root / name)
    (root / "no-manifest" / "manifest.json").unlink()
    (root / "not-json" / "manifest.json").write_text("{nope")
    raw = json.loads((root / "export" / "manifest.json").read_text())
    (root / "other-version" / "manifest.json").write_text(json.dumps(raw | {"version": 99}))
    (root / "missing-graph" / "encoder.onnx").unlink()
    (root / "changed-graph" / "encoder.onnx").write_bytes(b"\x08 another graph")
    zip_data = b"PK\x03\x04 a zip archive named encoder.onnx"
    (root / "not-onnx" / "encoder.onnx").write_bytes(zip_data)
    raw["artifacts"][0] |= {"sha256": sha256(zip_data), "bytes": len(zip_data)}
    (root / "not-onnx" / "manifest.json").write_text(json.dumps(raw))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("inputs")
    cv2.imwrite(str(root / "ok.png"), np.full((64, 80, 3), 128, np.uint8))
    ok = (root / "ok.png").read_bytes()
    (root / "cut.png").write_bytes(ok[: len(ok) // 2])
    (root / "huge.png").write_bytes(png_header(100_000, 100_000))
    (root / "empty.png").write_bytes(b"")
    (root / "text.jpg").write_text("not an image")
    (root / "mixed").mkdir()
    (root / "mixed" / "a.png").write_bytes(ok)
    (root / "mixed" / "notes.txt").write_text("not an image, and not named like one")
    (root / "mixed" / "broken.jpg").write_text("not an image")
    (root / "folder").mkdir()
    (root / "file.txt").write_text("a file")
    (root / "empty.pth").write_bytes(b"")
    (root / "random.pth").write_bytes(b"#" + np.random.default_rng(0).bytes(255))
    torch.save({"weight": torch.zeros(1000)}, root / "whole.pth")
    whole = (root / "whole.pth").read_bytes()
    (root / "truncated.pth").write_bytes(whole[: len(whole) // 2])
    (root / "unreadable.pth").write_bytes(whole)
    (root / "unreadable.pth").chmod(0)
    (root / "notes.json").write_text("zzz")
    (root / "list.json").write_text("[1, 2]")
    (root / "other.json").write_text('{"info": "not a dataset"}')
    write_export(root / "export")
    write_broken_exports(root)
    return root


@pytest.fixture(scope="module")
def read_only(tmp_path_factory):
    """A folder in which nothing can be created: root ignores permissions, but not /proc's."""
    if os.geteuid() == 0:
        if not Path("/proc/self").is_dir():
            pytest.skip("no folder here that root cannot write in")
        yield Path("/proc")
        return
    folder = tmp_path_factory.mktemp("read-only")
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# ---- the cases -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[f"{c.command}: {c.case}" for c in CASES])
def test_bad_input_is_one_clear_error_and_writes_nothing(case, inputs, tmp_path, monkeypatch, capsys, request):
    if not case.as_root and os.geteuid() == 0:
        pytest.skip("root reads every file")
    argv = case.argv
    if READ_ONLY in argv:
        argv = argv.replace(READ_ONLY, str(request.getfixturevalue("read_only")))
    for item in inputs.iterdir():
        (tmp_path / item.name).symlink_to(item)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # as on a machine without TensorRT
    before = tree(tmp_path), tree(inputs)

    code = common.run(COMMANDS[case.command].main, argv.split())

    stderr = capsys.readouterr().err
    assert code == case.code, stderr
    assert stderr.startswith("error: ") and "Traceback" not in stderr, stderr
    assert case.message in stderr and "\n  fix: " in stderr, stderr
    assert (tree(tmp_path), tree(inputs)) == before


def test_the_readme_lists_every_case():
    assert readme_table() in (ROOT / "README.md").read_text(), "run: python tests/test_bad_input.py"


# ---- what run() makes of errors ------------------------------------------------------------


def failing_main(error: BaseException):
    """A command whose work raises ``error``."""

    def main(argv: list[str] | None = None) -> int:
        common.command_parser("rapsam-test", "rapsam-test: fails", "").parse_args(argv)
        raise error

    return main


def test_debug_shows_the_traceback(capsys):
    main = failing_main(RapSamError("the input is bad", "give a good one"))
    assert common.run(main, []) == common.EXIT_ERROR
    assert capsys.readouterr().err == "error: the input is bad\n  fix: give a good one\n"
    assert common.run(main, ["--debug"]) == common.EXIT_ERROR
    stderr = capsys.readouterr().err
    assert stderr.startswith("Traceback") and stderr.endswith("error: the input is bad\n  fix: give a good one\n")


def test_an_internal_error_is_one_line_unless_debug(capsys):
    main = failing_main(ZeroDivisionError("division by zero"))
    assert common.run(main, []) == common.EXIT_INTERNAL
    assert capsys.readouterr().err == (
        "internal error: ZeroDivisionError: division by zero\n  rerun with --debug for the traceback and report it\n"
    )
    assert common.run(main, ["--debug"]) == common.EXIT_INTERNAL
    stderr = capsys.readouterr().err
    assert stderr.startswith("Traceback") and "report it with the traceback above" in stderr


def test_a_refused_path_names_it_and_what_to_do(capsys):
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "out/report.json")
    assert common.run(failing_main(full), []) == common.EXIT_ERROR
    assert capsys.readouterr().err == (
        f"error: cannot use out/report.json: {os.strerror(errno.ENOSPC)}\n"
        "  fix: free some disk space, or write to another disk\n"
    )


def test_interrupted_and_refused_command_lines(capsys):
    assert common.run(failing_main(KeyboardInterrupt()), []) == common.EXIT_INTERRUPTED
    assert capsys.readouterr().err == "interrupted: no file was left half-written\n"
    assert common.run(failing_main(KeyboardInterrupt()), ["--nope"]) == common.EXIT_USAGE
    assert capsys.readouterr().err == "error: unrecognized arguments: --nope\n  fix: see rapsam-test --help\n"


if __name__ == "__main__":
    print(readme_table())
