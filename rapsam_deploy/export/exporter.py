"""``export_model``: the reference model split into the contract's graphs, checked, simplified,
validated against PyTorch, and written atomically with its manifest.

int8 graphs are quantized from the fp32 graphs (``quantize``). Where fp32 is not among the
precisions asked for, those fp32 graphs are exported in memory for it and not written: the int8
file is complete on its own, and its notes in the manifest give the sha256 of the fp32 graph it
came from (the file's own hash, where fp32 is exported too)."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import onnx
import torch

from .. import __version__
from ..artifacts import contract
from ..artifacts.files import check_output, sha256_of, staged_directory
from ..artifacts.manifest import Artifact, Manifest, read_manifest, write_manifest
from ..artifacts.vocabulary import vocabulary_for
from ..backends.base import GraphRun
from ..errors import RapSamError
from ..model import RapSam, build_model, set_deform_impl
from ..model.attention import fold_key_projections
from ..model.deform_conv import DEFORM_IMPLS
from ..model.graphs import FUSED_GRAPHS, GRAPH_MODULES
from ..model.kernel_updator import set_fused_impl
from ..model.precision import (
    FP32_GRAPHS,
    INT8_CALIBRATION_METHOD,
    INT8_CALIBRATION_PHOTOS,
    INT8_OPS,
    half_precision,
    policy,
)
from .checks import check_graph, shared_weights
from .fused_function import attach_fused_function
from .onnx_export import DEFORM_CONV_OPSET, MIN_OPSET, export_graph
from .polygraphy_data import POLYGRAPHY_DIR, require_polygraphy, write_polygraphy_data
from .quantize import calibration_feeds, excluded_nodes, quantize_graph
from .reference_cases import Case, reference_cases
from .simplify import simplify
from .task_parity import TaskReport, tasks_json, validate_tasks
from .tensorrt_ops import unsupported_ops
from .tracing import example_inputs
from .validate import THRESHOLDS, ArtifactParity, failures, validate_files

_PROBE_SIZE = (64, 96)
_PROBE_QUERIES = 5


class ExportValidationError(RapSamError):
    """Exported graphs that do not match the PyTorch reference within the thresholds."""


@dataclass
class ExportOptions:
    """What to export; the defaults are what ``rapsam-export --backbone r18`` does."""

    backbone: str = "r18"
    checkpoint: Path | None = None
    class_embed: Path | None = None
    output: Path | None = None
    image_size: tuple[int, int] = (1024, 1024)
    opset: int = DEFORM_CONV_OPSET
    variants: tuple[str, ...] = ("standard",)
    precisions: tuple[str, ...] = ("fp32",)
    deform_conv: str = "op"
    validate: bool = True
    polygraphy: bool = False  # write polygraphy/<graph>.inputs.json and .reference.json (needs polygraphy)
    force: bool = False
    seed: int = 0

    @property
    def output_dir(self) -> Path:
        return Path(self.output) if self.output else Path("exports") / self.backbone


def check_options(options: ExportOptions) -> None:
    """Reject impossible settings before any work, with what to do instead."""
    height, width = options.image_size
    step = contract.SIZE_DIVISOR
    if height <= 0 or width <= 0 or height % step or width % step:
        raise RapSamError(
            f"--image-size {height} {width}: both must be positive multiples of {step} "
            "(the runtime pads every image to a multiple of 32)",
            f"use e.g. --image-size {max(step, round(height / step) * step)} {max(step, round(width / step) * step)}",
        )
    if options.opset < MIN_OPSET:
        raise RapSamError(
            f"--opset {options.opset} is too old: the graphs need opset {MIN_OPSET} (LayerNormalization)",
            f"use --opset {DEFORM_CONV_OPSET}",
        )
    if options.deform_conv not in DEFORM_IMPLS:
        raise RapSamError(f"--deform-conv {options.deform_conv!r} is unknown", f"use one of {DEFORM_IMPLS}")
    if options.deform_conv == "op" and options.opset < DEFORM_CONV_OPSET:
        raise RapSamError(
            f"--opset {options.opset} has no DeformConv (it came in opset {DEFORM_CONV_OPSET})",
            f"use --opset {DEFORM_CONV_OPSET}, or --deform-conv decomposed for runtimes without DeformConv",
        )
    for variant in options.variants:
        if variant not in contract.VARIANTS:
            raise RapSamError(f"unknown variant {variant!r}", f"use one of {contract.VARIANTS} or both")
    for precision in options.precisions:
        if precision not in contract.PRECISIONS:
            raise RapSamError(f"unknown precision {precision!r}", f"use one of {contract.PRECISIONS}")
    if options.polygraphy:
        require_polygraphy()


def _form(graph: str, variant: str, precision: str) -> tuple[str, str]:
    """The (variant, precision) of the file that serves ``graph`` in that form: graphs without a
    fused op have no plugin form, those in ``FP32_GRAPHS`` no fp16 form."""
    return (variant if graph in FUSED_GRAPHS else "standard", "fp32" if graph in FP32_GRAPHS else precision)


def artifact_file(graph: str, variant: str, precision: str) -> str:
    """``decoder.onnx``, ``decoder.plugin.onnx``, ``decoder.fp16.onnx``, ``decoder.plugin.int8.onnx``;
    graphs without a fused op or a reduced-precision form share the plainer file."""
    variant, precision = _form(graph, variant, precision)
    parts = [graph] + ["plugin"] * (variant == "plugin") + [precision] * (precision != "fp32")
    return ".".join(parts) + ".onnx"


def _forms(options: ExportOptions) -> Iterator[tuple[str, str, contract.GraphSpec, str]]:
    """Every (precision, variant, graph spec, file) the export's manifest lists."""
    for precision in options.precisions:
        for variant in options.variants:
            for spec in contract.GRAPHS:
                yield precision, variant, spec, artifact_file(spec.name, variant, precision)


@contextlib.contextmanager
def _graph_form(model: RapSam, plugin: bool) -> Iterator[None]:
    """The model as graphs trace it: the fused op as the plugin's nodes (``plugin``), and the
    prompt adapter's key projections folded onto its queries (the per-prompt cost drops from
    the image's size squared to the prompts' count: ``attention.folded_attention``)."""
    set_fused_impl(model, "op" if plugin else "torch")
    fold_key_projections(model, True)
    try:
        yield
    finally:
        set_fused_impl(model, "torch")
        fold_key_projections(model, False)


def _probe(spec: contract.GraphSpec) -> dict[str, np.ndarray]:
    return {
        t.name: x.numpy() for t, x in zip(spec.inputs, example_inputs(spec, _PROBE_SIZE, _PROBE_QUERIES), strict=True)
    }


def _tensor_info(values, spec_tensors) -> list[dict]:
    infos = []
    for value, spec in zip(values, spec_tensors, strict=True):
        dims = [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type).name
        infos.append({"name": spec.name, "dtype": dtype, "shape": dims})
    return infos


@dataclass
class ExportedGraph:
    """One graph file of the export: the ONNX model and how it was made (not yet written)."""

    graph: str
    precision: str
    model: onnx.ModelProto
    simplifier: str
    rejected: dict
    scopes: dict[str, str] = field(default_factory=dict)  # node name -> module path (onnx_export.module_scopes)
    notes: list[str] = field(default_factory=list)
    sha256: str = ""  # of the saved file
    bytes: int = 0


def export_file(model: RapSam, graph: str, variant: str, precision: str, options: ExportOptions) -> ExportedGraph:
    """``graph`` of ``model`` (already in ``precision``) exported, simplified and checked."""
    spec = GRAPH_MODULES[graph].spec
    scopes: dict[str, str] = {}
    with _graph_form(model, variant == "plugin"):
        onnx_model = export_graph(GRAPH_MODULES[graph](model), spec, options.image_size, options.opset, scopes)
    attach_fused_function(onnx_model, options.opset)
    simplified = simplify(onnx_model, _probe(spec))
    check_graph(simplified.model)
    return ExportedGraph(graph, precision, simplified.model, simplified.simplifier, simplified.rejected, scopes)


def _quantized_file(model: RapSam, fp32: ExportedGraph, feeds: list[dict[str, np.ndarray]]) -> ExportedGraph:
    """The int8 form of the fp32 graph ``fp32``, calibrated on ``feeds`` (``quantize``)."""
    exclude = excluded_nodes(fp32.model, fp32.scopes, model)
    int8 = quantize_graph(fp32.model, feeds, exclude)
    check_graph(int8)
    total = sum(n.op_type in INT8_OPS for n in fp32.model.graph.node)
    notes = [
        f"int8 QDQ of the fp32 graph (sha256 {hashlib.sha256(fp32.model.SerializeToString()).hexdigest()}): "
        f"{total - len(exclude)} of {total} {'/'.join(INT8_OPS)} nodes quantized, {INT8_CALIBRATION_METHOD} "
        f"calibration on {len(feeds)} inputs from {len(INT8_CALIBRATION_PHOTOS)} photos"
    ]
    return ExportedGraph(fp32.graph, "int8", int8, fp32.simplifier, fp32.rejected, fp32.scopes, notes)


def _tools() -> dict:
    import onnxruntime
    import onnxscript

    versions = {
        "rapsam_deploy": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxscript": onnxscript.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
    for name in ("onnxslim", "onnxsim"):
        with contextlib.suppress(ImportError):
            versions[name] = __import__(name).__version__
    return versions


def _profiles(image_size: tuple[int, int]) -> dict:
    """Default engine optimisation profiles (min, opt, max) per dynamic axis."""
    height, width = image_size
    return {
        "B": {"min": 1, "opt": 1, "max": 2},
        "H": {"min": min(256, height), "opt": height, "max": max(height, 1344)},
        "W": {"min": min(256, width), "opt": width, "max": max(width, 1344)},
        "N": {"min": 1, "opt": 100, "max": 256},
        "T": {"min": 1, "opt": 1, "max": 5},
    }


def _manifest(
    model: RapSam, options: ExportOptions, artifacts: list[Artifact], validation: dict, queries: dict
) -> Manifest:
    info = asdict(model.info)
    info["label"] = model.info.label
    info.update(
        num_classes=model.num_classes,
        num_queries=int(model.object_queries.shape[0]),
        channels=contract.CHANNELS,
        deform_conv=options.deform_conv,
    )
    return Manifest(
        model=info,
        image={
            "color": "RGB",
            "range": [0, 255],
            "mean": list(contract.IMAGE_MEAN),
            "std": list(contract.IMAGE_STD),
            "pad_value": list(contract.IMAGE_MEAN),
            "pad": "right and bottom, to a multiple of 32",
            "size_divisor": contract.SIZE_DIVISOR,
            "feature_stride": contract.FEATURE_STRIDE,
            "trace_size": list(options.image_size),
        },
        prompts={"default_kind": contract.PROMPT_KIND_DEFAULT, "point_box_half_size": contract.POINT_BOX_HALF_SIZE},
        vocabulary=vocabulary_for(model.num_classes).to_json(),
        profiles=_profiles(options.image_size),
        object_queries=queries,
        artifacts=artifacts,
        validation=validation,
        tools=_tools(),
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        precision_policy={p: policy(p) for p in options.precisions},
    )


def _validation_error(reports: list[ArtifactParity]) -> ExportValidationError:
    lines = [f"  {line}" for line in failures(reports)]
    limits = "; ".join(
        f"{p}: max rel <= {t.max_rel}, sign agreement >= {t.sign_agreement}, hard-mask flips <= {t.hard_mask_flips}"
        for p, t in THRESHOLDS.items()
    )
    return ExportValidationError(
        "exported graphs do not match the PyTorch reference (nothing was written):\n" + "\n".join(lines),
        f"thresholds are {limits}; report this with the figures, or pass --no-validate to keep the graphs anyway",
    )


def _task_error(tasks: list[TaskReport]) -> ExportValidationError:
    lines = [f"  {t.form} chain: {'; '.join(t.misses)} (gates: {t.gates})" for t in tasks if t.fatal]
    return ExportValidationError(
        "exported graphs match the PyTorch reference one by one but not as a chain (nothing was written):\n"
        + "\n".join(lines),
        "report this with the figures, or pass --no-validate to keep the graphs anyway",
    )


def _chains(options: ExportOptions, directory: Path) -> dict[str, dict[str, Path]]:
    """Each exported form ('standard/fp16') -> graph name -> its file in ``directory``."""
    chains: dict[str, dict[str, Path]] = {}
    for precision, variant, spec, file in _forms(options):
        chains.setdefault(f"{variant}/{precision}", {})[spec.name] = directory / file
    return chains


def _runtime_chains(options: ExportOptions, directory: Path, log: Callable[[str], None]) -> dict[str, GraphRun]:
    """Forms a runtime computes from the fp32 graphs, checked where this machine can run them
    (so that ``--precision auto`` may pick them): OpenVINO's bf16, with OpenVINO installed, a
    CPU with bf16 hardware and the decomposed deformable convolution."""
    if "fp32" not in options.precisions or options.deform_conv != "decomposed":
        return {}
    try:
        from ..backends.openvino_backend import bf16_supported, openvino_run

        if not bf16_supported():
            return {}
        paths = {spec.name: directory / artifact_file(spec.name, "standard", "fp32") for spec in contract.GRAPHS}
        return {"openvino/bf16": openvino_run(paths, "bf16")}
    except RapSamError as err:
        log(f"  openvino/bf16 chain: not checked ({err.what})")
        return {}


def export_model(options: ExportOptions | None = None, log: Callable[[str], None] = print, **overrides) -> Manifest:
    """Export, check and validate; returns the written manifest. Keyword ``overrides`` set
    :class:`ExportOptions` fields, e.g. ``export_model(backbone="r50", precisions=("fp16",))``."""
    options = options or ExportOptions()
    for key, value in overrides.items():
        setattr(options, key, value)
    check_options(options)
    output = options.output_dir
    check_output(output, options.force)

    start = time.perf_counter()
    model = build_model(options.backbone, options.checkpoint, options.class_embed, options.seed)
    set_deform_impl(model, options.deform_conv)
    log(f"model: {model.info.label} ({time.perf_counter() - start:.1f} s)")
    models = {"fp32": model}
    if "fp16" in options.precisions:
        models["fp16"] = half_precision(model)

    jobs = {}
    for precision, variant, spec, file in _forms(options):
        jobs.setdefault(file, (spec.name, *_form(spec.name, variant, precision)))
    # int8 files last: they are quantized from the fp32 graphs, exported by then where asked for.
    jobs = dict(sorted(jobs.items(), key=lambda job: job[1][2] == "int8"))

    with staged_directory(output, options.force) as staging:
        built: dict[str, ExportedGraph] = {}
        feeds = None
        for index, (file, (graph, variant, precision)) in enumerate(jobs.items(), 1):
            if precision == "int8" and feeds is None:
                feeds = _calibration_feeds(model, options, log)
            step = time.perf_counter()
            if precision == "int8":
                fp32 = built.get(artifact_file(graph, variant, "fp32"))
                fp32 = fp32 or export_file(model, graph, variant, "fp32", options)
                b = _quantized_file(model, fp32, feeds[graph])
            else:
                b = export_file(models[precision], graph, variant, precision, options)
            built[file] = b
            onnx.save(b.model, staging / file)
            b.sha256, b.bytes = sha256_of(staging / file), (staging / file).stat().st_size
            how = f"int8 QDQ of the {b.simplifier} fp32 graph" if precision == "int8" else b.simplifier
            seconds = time.perf_counter() - step
            log(f"[{index}/{len(jobs)}] {file}: {b.bytes / 1e6:.1f} MB, {how} ({seconds:.1f} s)")

        queries_path = staging / contract.OBJECT_QUERIES_FILE
        np.save(queries_path, model.object_queries.detach().float().numpy())
        queries = {
            "file": contract.OBJECT_QUERIES_FILE,
            "sha256": sha256_of(queries_path),
            "shape": list(model.object_queries.shape),
        }

        cases = _reference_cases(model, options, log)
        parity: dict[str, ArtifactParity] = {}
        floor, tasks = None, []
        if options.validate:
            step = time.perf_counter()
            log(f"validating with ONNX Runtime (CPU) against PyTorch at {options.image_size} and a second size ...")
            files = [(b.graph, b.precision, staging / f) for f, b in built.items()]
            reports = validate_files(files, cases, log)
            parity = {r.file: r for r in reports}
            if not all(r.passed for r in reports):
                raise _validation_error(reports)
            log(f"graph by graph: passed; task figures of each form's chain at {options.image_size} ...")
            forms = _chains(options, staging) | _runtime_chains(options, staging, log)
            floor, tasks = validate_tasks(model, forms, options.image_size, log)
            if any(t.fatal for t in tasks):
                raise _task_error(tasks)
            kept = [t.form for t in tasks if t.misses]
            marked = f"; {', '.join(kept)} chain MISSES its gates (kept, marked failing)" if kept else ""
            log(f"validation passed{marked} ({time.perf_counter() - step:.1f} s)")

        artifacts = _artifacts(options, built, parity)
        validation = {
            "ran": options.validate,
            "runtime": "onnxruntime CPUExecutionProvider",
            "thresholds": {p: asdict(t) for p, t in THRESHOLDS.items()},
            "shared_weights": _shared_weights(built, options),
            "tasks": tasks_json(floor, tasks),
        }
        if options.polygraphy:
            validation["polygraphy"] = write_polygraphy_data(cases, staging)
            log(f"wrote {POLYGRAPHY_DIR}/<graph>.inputs.json and .reference.json for polygraphy run")
        write_manifest(_manifest(model, options, artifacts, validation, queries), staging)
    log(f"wrote {output} ({time.perf_counter() - start:.1f} s)")
    return read_manifest(output)


def _calibration_feeds(
    model: RapSam, options: ExportOptions, log: Callable[[str], None]
) -> dict[str, list[dict[str, np.ndarray]]]:
    """The int8 calibration's inputs of every graph (``quantize.calibration_feeds``)."""
    step = time.perf_counter()
    feeds = calibration_feeds(model, options.image_size)
    seconds = time.perf_counter() - step
    log(f"int8 calibration: each graph's inputs on {len(INT8_CALIBRATION_PHOTOS)} photos ({seconds:.1f} s)")
    return feeds


def _reference_cases(model: RapSam, options: ExportOptions, log: Callable[[str], None]) -> list[Case]:
    """The validation cases with PyTorch's outputs, computed once for the validation and the
    polygraphy files; none when neither is asked for."""
    if not (options.validate or options.polygraphy):
        return []
    step = time.perf_counter()
    cases = reference_cases(model, options.image_size)
    purpose = "" if options.validate else ", for the polygraphy files only (--no-validate)"
    log(f"PyTorch reference outputs of {len(cases)} cases{purpose} ({time.perf_counter() - step:.1f} s)")
    return cases


def _artifacts(options: ExportOptions, built: dict[str, ExportedGraph], parity: dict) -> list[Artifact]:
    artifacts = []
    for precision, variant, spec, file in _forms(options):
        b = built[file]
        file_variant, file_precision = _form(spec.name, variant, precision)
        notes = []
        if file_precision != precision:
            notes.append(FP32_GRAPHS[spec.name])
        if file_variant != variant:
            notes.append("no fused op in this graph: same file as the standard variant")
        artifacts.append(
            Artifact(
                graph=spec.name,
                file=file,
                variant=variant,
                precision=precision,
                sha256=b.sha256,
                bytes=b.bytes,
                opset=options.opset,
                inputs=_tensor_info(b.model.graph.input, spec.inputs),
                outputs=_tensor_info(b.model.graph.output, spec.outputs),
                simplifier=b.simplifier,
                custom_ops=sorted({f"{n.domain}::{n.op_type}" for n in b.model.graph.node if n.domain}),
                tensorrt_unsupported=unsupported_ops(b.model),
                parity=_parity_json(parity.get(file), options.validate),
                notes=notes + b.notes + [f"{k}: {v}" for k, v in sorted(b.rejected.items())],
            )
        )
    return artifacts


def _parity_json(report: ArtifactParity | None, validated: bool) -> dict:
    if report is None:
        return {"validated": False, "reason": "--no-validate" if not validated else "not run"}
    return {
        "validated": True,
        "passed": report.passed,
        "worst": report.worst(),
        "cases": [asdict(o) for o in report.outputs],
    }


def _shared_weights(built: dict[str, ExportedGraph], options: ExportOptions) -> list[dict]:
    """Weights stored in more than one graph of the same variant and precision."""
    found = []
    for precision in options.precisions:
        for variant in options.variants:
            files = {artifact_file(s.name, variant, precision) for s in contract.GRAPHS}
            models = {f: built[f].model for f in sorted(files)}
            found += [asdict(w) | {"variant": variant, "precision": precision} for w in shared_weights(models)]
    return found
