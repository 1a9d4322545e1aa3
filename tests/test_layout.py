"""The package's layout by stage (README, "Layout"): nothing imports upward, no module but the
contract spells a graph or tensor name, and an export's manifest is parsed once however many
backends and predictors use it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import EXPORT_SIZE

from rapsam_deploy.artifacts import contract
from rapsam_deploy.artifacts import manifest as manifests

PACKAGE = Path(__file__).resolve().parents[1] / "rapsam_deploy"
# Stages from the ground up; a module imports its own package and lower stages only.
STAGES = (
    {"", "errors", "progress", "parity", "machine", "artifacts"},
    {"model", "plugins"},
    {"engines"},
    {"backends"},
    {"predict", "export"},
    {"eval"},
    {"bench", "serve"},
    {"demo"},
    {"cli"},
)
# String constants equal to a contract name that mean something else: words of messages and
# files for people, option names, and a struct field of the C ABI.
NOT_TENSOR_NAMES = {
    ("predict/results.py", "iou"),  # results JSON: a mask's predicted IoU
    ("predict/results.py", "image"),  # results JSON: the input image's path
    ("cli/infer.py", "image"),  # the progress bar's unit
    ("eval/report.py", "image"),  # report: "image" or "video" samples
    ("eval/runner.py", "image"),  # the progress bar's unit
    ("eval/coco_panoptic.py", "image"),  # what a missing file is, in its error
    ("eval/coco_instances.py", "image"),
    ("predict/preprocess.py", "image"),  # what a missing file is, in its error
    ("bench/report.py", "iou"),  # a suffix of parity figures' names
    ("cli/build.py", "queries"),  # --profile-queries
    ("plugins/abi.py", "queries"),  # the C ABI's shape struct
}


def _modules() -> dict[str, ast.Module]:
    return {str(p.relative_to(PACKAGE)): ast.parse(p.read_text()) for p in sorted(PACKAGE.rglob("*.py"))}


def _package(path: str) -> str:
    """The stage package of a module path: 'backends/base.py' -> 'backends', 'errors.py' -> 'errors'."""
    parts = Path(path).parts
    return parts[0] if len(parts) > 1 else Path(path).stem.replace("__init__", "")


def _imported(path: str, tree: ast.Module) -> set[str]:
    """The rapsam_deploy stage packages ``path`` imports (at any depth, lazy imports too)."""
    found = set()
    depth = len(Path(path).parts) - 1
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            up = node.level - 1
            base = list(Path(path).parts[:depth])
            target = base[: len(base) - up] + (node.module.split(".") if node.module else [])
            if not target:
                found |= {a.name for a in node.names}
            else:
                found.add(target[0] if target[0] else "")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rapsam_deploy"):
            found.add([*node.module.split("."), ""][1])
    return found


def _stage(package: str) -> int:
    return next(i for i, stage in enumerate(STAGES) if package in stage)


def test_every_package_has_a_stage():
    packages = {_package(path) for path in _modules()}
    assert packages <= set().union(*STAGES), packages - set().union(*STAGES)


def test_nothing_imports_upward_or_sideways():
    found = []
    for path, tree in _modules().items():
        own = _package(path)
        for imported in _imported(path, tree):
            if imported in ("", own) or imported not in set().union(*STAGES):
                continue
            # The ground floor's modules use each other; above it, stages of one floor are apart.
            if _stage(imported) > _stage(own) or (_stage(imported) == _stage(own) > 0):
                found.append(f"{path} imports {imported}")
    assert found == []


def test_the_import_check_can_fail():
    tree = ast.parse("from ..bench.peaks import cpu_peak\nfrom ..predict import results\n")
    assert _imported("eval/runner.py", tree) == {"bench", "predict"}
    assert _stage("bench") > _stage("eval")


def test_no_module_but_the_contract_spells_a_graph_or_tensor_name():
    names = set(contract.GRAPH_NAMES) | {t.name for spec in contract.GRAPHS for t in (*spec.inputs, *spec.outputs)}
    names |= {t.name for t in (*contract.FUSED_OP_ACTIVATIONS, contract.FUSED_OP_OUTPUT)}
    found = []
    for path, tree in _modules().items():
        if path == "artifacts/contract.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in names and (path, node.value) not in NOT_TENSOR_NAMES:
                found.append(f"{path}:{node.lineno} {node.value!r}")
    assert found == []


@pytest.fixture
def parses(monkeypatch) -> list[str]:
    """Every manifest parsed from now on, by source."""
    seen = []
    parse = manifests.parse_manifest

    def counted(data: bytes, source):
        seen.append(str(source))
        return parse(data, source)

    monkeypatch.setattr(manifests, "parse_manifest", counted)
    return seen


def test_an_export_is_opened_once_for_every_backend_and_predictor(exported_r18, parses, tmp_path):
    from conftest import photo_rgb

    from rapsam_deploy.eval.runner import EvalConfig, load_runtimes
    from rapsam_deploy.predict.panoptic import PanopticPredictor
    from rapsam_deploy.predict.preprocess import ResizePolicy
    from rapsam_deploy.predict.prompt import PromptPredictor

    resize = ResizePolicy(long_side=max(EXPORT_SIZE))
    config = EvalConfig(task="prompt", data=tmp_path, export_dir=exported_r18[0], backend="onnxruntime",
                        compare_to="torch")  # fmt: skip
    runtimes = load_runtimes(config)
    assert len(parses) == 1 and runtimes[0].export is runtimes[1].export
    image = photo_rgb(*EXPORT_SIZE)
    for runtime in runtimes:
        PanopticPredictor(runtime, resize).predict(image)
        prompts = PromptPredictor(runtime, resize)
        prompts.set_image(image)
        prompts.predict(points=[[40, 30]])
    assert parses == [str(exported_r18[0] / manifests.MANIFEST_FILE)]
