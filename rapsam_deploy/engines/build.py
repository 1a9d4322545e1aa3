"""TensorRT engines from an export directory: one engine per graph of the contract, built from
the manifest's graphs with optimisation profiles from its ``profiles``, written as plain plans
with the JSON sidecar of :mod:`.engine_file` beside each (what ``rapsam-build`` runs).

TensorRT is imported lazily (:func:`import_tensorrt`), so this module imports everywhere; every
TensorRT call here is documented API of TensorRT 10.0 to 11.x. Networks are strongly typed,
because TensorRT 11 builds nothing else: ``fp16`` means the exporter's ``*.fp16.onnx`` graphs,
whose precision is in the graph, on TensorRT 10 too; the FP16 builder flag is never set.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import onnx

from .. import __version__
from ..artifacts import contract
from ..artifacts.contract import GraphSpec
from ..artifacts.export_dir import ExportDir
from ..artifacts.files import check_writable, write_atomic
from ..errors import RapSamError
from ..progress import Log, log_stderr
from .engine_file import EngineSidecar, default_engine_dir, engine_path, write_engine
from .tensorrt_env import gpu_identity, import_tensorrt, load_plugin_library, tensorrt_logger

AXES = ("B", "H", "W", "N", "T")
PROFILE_POINTS = ("min", "opt", "max")


def prepare_for_parser(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of a plugin-variant graph without the model-local function
    ``rapsam::RapSamMaskPoolDynConv``, keeping its nodes (and their ``plugin_namespace`` /
    ``plugin_version`` attributes): TensorRT 10.0-10.6 parse a node through a matching local
    function and never ask the plugin registry (README, "The plugin variant"), so without the
    function every TensorRT version must use the plugin, or fail to parse, never silently fall
    back to the decomposition."""
    prepared = onnx.ModelProto()
    prepared.CopyFrom(model)
    keep = [f for f in prepared.functions if (f.domain, f.name) != (contract.FUSED_OP_DOMAIN, contract.FUSED_OP_NAME)]
    del prepared.functions[:]
    prepared.functions.extend(keep)
    return prepared


# ---- optimisation profiles ---------------------------------------------------------------


def axis_ranges(profiles: dict) -> dict[str, tuple[int, int, int]]:
    """(min, opt, max) of every symbolic dimension of the contract from the manifest's
    ``profiles`` (B, H, W, N, T), by the contract's shape rule (Hf = H/4, Wf = W/4, Hq = T*Hf:
    T video frames stacked along height)."""
    missing = [axis for axis in AXES if axis not in profiles]
    if missing:
        raise RapSamError(f"the manifest's profiles lack {missing}", "re-export, or give every --profile-* option")
    ranges = {axis: tuple(int(profiles[axis][k]) for k in PROFILE_POINTS) for axis in AXES}
    for axis, values in ranges.items():
        if not 1 <= values[0] <= values[1] <= values[2]:
            raise RapSamError(f"profile {axis} = {values}: need 1 <= min <= opt <= max", "fix the --profile-* values")
    for axis in ("H", "W"):
        if any(v % contract.SIZE_DIVISOR for v in ranges[axis]):
            raise RapSamError(
                f"profile {axis} = {ranges[axis]}: image sizes are multiples of {contract.SIZE_DIVISOR}",
                "fix the --profile-height / --profile-width values",
            )
    points = [
        contract.dimensions(frames=ranges["T"][i], **{axis: ranges[axis][i] for axis in ("B", "H", "W", "N")})
        for i in range(len(PROFILE_POINTS))
    ]
    return {symbol: tuple(point[symbol] for point in points) for symbol in points[0]} | {"T": ranges["T"]}


def input_profiles(spec: GraphSpec, ranges: dict[str, tuple[int, int, int]]) -> dict[str, dict[str, list[int]]]:
    """Per input of ``spec``: ``{"min": shape, "opt": shape, "max": shape}``. With the default
    profiles of a 1024x1024 export (B 1/1/2, H and W 256/1024/1344, N 1/100/256, T 1/1/5):
    ``image`` [1,3,256,256] / [1,3,1024,1024] / [2,3,1344,1344]; ``prompt_boxes`` [1,1,4] /
    [1,100,4] / [2,256,4]; ``features`` [1,256,64,64] / [1,256,256,256] / [2,256,1680,336]
    (the max height is 5 stacked frames); ``queries`` and ``kernels`` [1,1,256] / [1,100,256] /
    [2,256,256]; ``attn_mask`` [1,1] / [100,100] / [256,256]; ``mask_logits`` like ``features``
    with N channels."""
    shapes = [spec.shapes({d: r[i] for d, r in ranges.items()}, spec.inputs) for i in range(len(PROFILE_POINTS))]
    return {t.name: {key: list(s[t.name]) for key, s in zip(PROFILE_POINTS, shapes, strict=True)} for t in spec.inputs}


# ---- progress and errors -----------------------------------------------------------------


def progress_monitor(trt, log: Log):
    """A ``trt.IProgressMonitor`` that logs the build's outer phases (two levels) with their
    steps in 10% increments and times; Ctrl-C cancels the build through ``step_complete``.
    ``None`` where this TensorRT has no progress monitor."""
    if not hasattr(trt, "IProgressMonitor"):
        return None

    class Monitor(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self.depth: dict[str, int] = {}
            self.phases: dict[str, tuple[float, int, int]] = {}
            self.cancelled = False

        def _shown(self, phase: str) -> bool:
            return self.depth.get(phase, 99) <= 1

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            try:
                self.depth[phase_name] = 0 if parent_phase is None else self.depth.get(parent_phase, 0) + 1
                self.phases[phase_name] = (time.perf_counter(), num_steps, 0)
                if self._shown(phase_name):
                    log(f"  {'  ' * self.depth[phase_name]}{phase_name} ({num_steps} steps)")
            except KeyboardInterrupt:
                self.cancelled = True

        def step_complete(self, phase_name: str, step: int) -> bool:
            try:
                start, steps, shown = self.phases.get(phase_name, (time.perf_counter(), 1, 0))
                tenth = (step + 1) * 10 // max(steps, 1)
                if self._shown(phase_name) and steps >= 10 and tenth > shown and step + 1 < steps:
                    self.phases[phase_name] = (start, steps, tenth)
                    log(f"  {'  ' * self.depth[phase_name]}{phase_name}: {step + 1}/{steps}")
            except KeyboardInterrupt:
                self.cancelled = True
            return not self.cancelled

        def phase_finish(self, phase_name: str) -> None:
            try:
                start = self.phases.pop(phase_name, (time.perf_counter(), 0, 0))[0]
                if self._shown(phase_name):
                    log(f"  {'  ' * self.depth[phase_name]}{phase_name}: done ({time.perf_counter() - start:.1f} s)")
                self.depth.pop(phase_name, None)
            except KeyboardInterrupt:
                self.cancelled = True

    return Monitor()


def parse_error(parser, onnx_file: Path) -> RapSamError:
    """Every error of a failed ``OnnxParser.parse``, each with its node, as one error."""
    lines = []
    operators = set()
    for i in range(parser.num_errors):
        error = parser.get_error(i)
        operators.add(error.node_operator())
        where = f"node {error.node()} {error.node_name()!r} ({error.node_operator()})" if error.node() >= 0 else "graph"
        lines.append(f"  {where}: {error.code()}: {error.desc()}")
    fix = "check that the graph comes from this rapsam-deploy's rapsam-export and that TensorRT is >= 10.1"
    if "DeformConv" in operators:
        fix = "TensorRT parses DeformConv from 10.1 on: upgrade, or re-export with --deform-conv decomposed"
    elif contract.FUSED_OP_NAME in operators:
        fix = "the plugin was not found: build librapsam_trt_plugin against this TensorRT (README, plugins/)"
    return RapSamError(f"TensorRT could not parse {onnx_file}:\n" + "\n".join(lines), fix)


# ---- building ----------------------------------------------------------------------------


@dataclass
class BuildOptions:
    """What ``rapsam-build`` does; ``profiles`` override the manifest's per axis (B, H, W, N, T)."""

    export: ExportDir
    precision: str = contract.DEFAULT_PRECISION
    variant: str = contract.DEFAULT_VARIANT
    graphs: tuple[str, ...] = contract.GRAPH_NAMES
    workspace_gib: float | None = None
    timing_cache: Path | None = None
    output: Path | None = None
    force: bool = False
    profiles: dict[str, dict[str, int]] = field(default_factory=dict)
    verbose: bool = False

    @property
    def engine_dir(self) -> Path:
        return Path(self.output) if self.output else default_engine_dir(self.export.path, self.precision, self.variant)


@dataclass
class BuiltEngine:
    """One engine written by :func:`build_engines`: its plan at ``path``, and its sidecar."""

    graph: str
    path: Path
    sidecar: EngineSidecar
    seconds: float


def check_build_options(options: BuildOptions) -> None:
    """Reject impossible requests before TensorRT is touched."""
    if options.precision not in contract.PRECISIONS:
        raise RapSamError(f"unknown precision {options.precision!r}", f"use one of {contract.PRECISIONS}")
    if options.variant not in contract.VARIANTS:
        raise RapSamError(f"unknown variant {options.variant!r}", f"use one of {contract.VARIANTS}")
    unknown = [g for g in options.graphs if g not in contract.GRAPH_NAMES]
    if unknown:
        raise RapSamError(f"unknown graphs {unknown}", f"choose from {list(contract.GRAPH_NAMES)}")
    for graph in options.graphs:
        options.export.manifest.artifact(graph, options.variant, options.precision)
    if options.workspace_gib is not None and options.workspace_gib <= 0:
        raise RapSamError(f"--workspace {options.workspace_gib}: must be > 0 GiB", "e.g. --workspace 4")
    existing = [engine_path(options.engine_dir, g) for g in options.graphs]
    existing = [str(p) for p in existing if p.exists()]
    if existing and not options.force:
        raise RapSamError(f"engines exist: {', '.join(existing)}", "pass --force to rebuild them")
    check_writable(options.engine_dir, "--output")
    # The grown timing cache is written before each engine, by default into EXPORT_DIR/engines.
    cache = options.timing_cache
    if cache is not None and os.path.isdir(cache):
        raise RapSamError(f"--timing-cache {cache} is a directory", "give the cache file's path")
    check_writable(Path(cache).absolute().parent if cache else options.export.path / "engines", "--timing-cache", cache)


def default_timing_cache(export_dir: Path, tensorrt_version: str, capability: str) -> Path:
    """One timing cache per TensorRT version and GPU architecture (TensorRT refuses a cache made
    elsewhere), shared by every graph, precision and variant of the export."""
    return Path(export_dir) / "engines" / f"timing-trt{tensorrt_version}-{capability}.cache"


@contextlib.contextmanager
def timing_cache(config, path: Path, log: Log) -> Iterator[None]:
    """Attach the timing cache at ``path`` (empty if absent or unusable) to ``config``; after a
    successful build, write the grown cache back atomically."""
    data = path.read_bytes() if path.is_file() else b""
    cache = config.create_timing_cache(data)
    if cache is None or not config.set_timing_cache(cache, ignore_mismatch=False):
        log(f"  timing cache {path} is unusable here (another TensorRT or GPU): starting an empty one")
        cache = config.create_timing_cache(b"")
        config.set_timing_cache(cache, ignore_mismatch=False)
    yield
    write_atomic(path, memoryview(config.get_timing_cache().serialize()))


def _check_network_io(network, spec: GraphSpec, onnx_file: Path) -> None:
    inputs = [network.get_input(i).name for i in range(network.num_inputs)]
    outputs = [network.get_output(i).name for i in range(network.num_outputs)]
    if inputs != spec.input_names or outputs != spec.output_names:
        raise RapSamError(
            f"{onnx_file} does not have the contract's tensors: inputs {inputs}, outputs {outputs} "
            f"(expected {spec.input_names}, {spec.output_names})",
            "re-export the directory with this rapsam-deploy",
        )


def _parser_bytes(onnx_file: Path, variant: str) -> bytes:
    data = onnx_file.read_bytes()
    if variant != "plugin":
        return data
    model = onnx.load_from_string(data)
    if not any(node.domain == contract.FUSED_OP_DOMAIN for node in model.graph.node):
        return data
    return prepare_for_parser(model).SerializeToString()


def _parse(trt, builder, spec: GraphSpec, onnx_file: Path, variant: str):
    """The strongly typed network of ``onnx_file`` (the parser is returned too: the network
    needs it alive)."""
    strongly_typed = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    network = builder.create_network(0 if strongly_typed is None else 1 << int(strongly_typed))
    # No ENABLE_PLUGIN_OVERRIDE: the fused nodes' plugin_namespace attribute already sends them to
    # the plugin registry, and the flag makes the parser ask the registry about every node, which
    # crashes TensorRT 10.15-10.16 on the decoder's Split nodes (README, "The plugin variant").
    parser = trt.OnnxParser(network, tensorrt_logger())
    # The path lets the parser find external weight files next to the graph.
    if not parser.parse(_parser_bytes(onnx_file, variant), str(onnx_file)):
        raise parse_error(parser, onnx_file)
    _check_network_io(network, spec, onnx_file)
    return network, parser


def _config(trt, builder, shapes: dict[str, dict[str, list[int]]], options: BuildOptions, log: Log):
    config = builder.create_builder_config()
    if options.precision == "fp32":
        # TF32 (on by default) rounds fp32 products to 10-bit mantissas: fp32 engines are fp32,
        # as the ONNX Runtime and PyTorch results they are checked against. fp16 engines keep it
        # for the parts their graphs leave in fp32, which are there for range, not precision.
        config.clear_flag(trt.BuilderFlag.TF32)
    workspace_gib = options.workspace_gib
    if workspace_gib is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    profile = builder.create_optimization_profile()
    for name, shape in shapes.items():
        profile.set_shape(name, shape["min"], shape["opt"], shape["max"])
        log(f"  profile {name}: min {shape['min']}, opt {shape['opt']}, max {shape['max']}")
    config.add_optimization_profile(profile)
    return config


@dataclass(frozen=True)
class _Target:
    """What every engine of one ``rapsam-build`` run shares."""

    ranges: dict[str, tuple[int, int, int]]
    gpu_name: str
    capability: str
    plugin_sha256: str | None


def build_engine(options: BuildOptions, target: _Target, graph: str, log: Log = log_stderr) -> BuiltEngine:
    """Parse, build and write one graph's engine (see :func:`build_engines`)."""
    trt = import_tensorrt()
    start = time.perf_counter()
    spec = contract.graph(graph)
    onnx_file = options.export.graph_file(graph, options.variant, options.precision)
    builder = trt.Builder(tensorrt_logger())
    network, _parser = _parse(trt, builder, spec, onnx_file, options.variant)
    shapes = input_profiles(spec, target.ranges)
    config = _config(trt, builder, shapes, options, log)
    monitor = progress_monitor(trt, log)
    if monitor is not None:
        config.progress_monitor = monitor

    cache_path = options.timing_cache or default_timing_cache(options.export.path, trt.__version__, target.capability)
    with timing_cache(config, cache_path, log):
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            if monitor is not None and monitor.cancelled:
                raise KeyboardInterrupt
            raise RapSamError(
                f"TensorRT could not build the {graph} engine (its messages are above)",
                "rerun with --verbose for TensorRT's full log; with --workspace, allow more",
            )

    sidecar = EngineSidecar(
        tensorrt=trt.__version__,
        gpu_name=target.gpu_name,
        compute_capability=target.capability,
        precision=options.precision,
        variant=options.variant,
        graph=graph,
        onnx_file=onnx_file.name,
        onnx_sha256=options.export.manifest.artifact(graph, options.variant, options.precision).sha256,
        plugin_sha256=target.plugin_sha256,
        profile=shapes,
        rapsam_deploy=__version__,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )
    path = engine_path(options.engine_dir, graph)
    sidecar = write_engine(path, sidecar, memoryview(serialized))
    return BuiltEngine(graph, path, sidecar, time.perf_counter() - start)


def build_engines(options: BuildOptions, log: Log = log_stderr) -> list[BuiltEngine]:
    """Build the engines of ``options.graphs`` from the export directory's manifest, one per
    graph, into ``options.engine_dir`` (``EXPORT_DIR/engines/<precision>-<variant>`` by default),
    with the plugin library loaded for the ``plugin`` variant and a timing cache reused across
    builds. Every check that needs no GPU runs before TensorRT is imported."""
    check_build_options(options)
    ranges = axis_ranges({**options.export.manifest.profiles, **options.profiles})
    trt = import_tensorrt()
    gpu_name, capability = gpu_identity()
    tensorrt_logger().min_severity = trt.Logger.INFO if options.verbose else trt.Logger.WARNING
    plugin_sha256 = load_plugin_library() if options.variant == "plugin" else None
    target = _Target(ranges, gpu_name, capability, plugin_sha256)
    log(f"TensorRT {trt.__version__} on {gpu_name} ({capability}): {options.precision} {options.variant} engines")
    built = []
    for index, graph in enumerate(options.graphs, 1):
        log(f"[{index}/{len(options.graphs)}] {graph}")
        built.append(build_engine(options, target, graph, log))
        log(f"[{index}/{len(options.graphs)}] wrote {built[-1].path} ({built[-1].seconds:.1f} s)")
    return built
