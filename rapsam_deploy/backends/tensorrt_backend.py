"""The TensorRT backend: the engines ``rapsam-build`` wrote, run on torch tensors.

Device memory is torch's: inputs, outputs and each execution context's activation memory are
tensors from torch's caching allocator, and execution goes on torch streams, so nothing here
owns a CUDA context. pycuda is left out on purpose: it creates and pushes its own CUDA context,
which clashes with the primary context that torch (and TensorRT) use in the same process.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..artifacts import contract
from ..artifacts.contract import GraphSpec
from ..artifacts.export_dir import ExportDir
from ..engines.engine_file import (
    EngineExpectation,
    check_engine,
    check_engine_dir,
    default_engine_dir,
    engine_path,
    read_engine,
    rebuild_command,
    refused_by_tensorrt,
)
from ..engines.tensorrt_env import gpu_identity, import_tensorrt, load_plugin_library, tensorrt_logger
from ..errors import RapSamError
from .base import Backend, BackendInfo, output_shapes

# The contract's dtypes (numpy spelling) as TensorRT's DataType names and torch dtypes.
_TRT_DTYPES = {"float32": "FLOAT", "int64": "INT64", "bool": "BOOL"}
_TORCH_DTYPES = {"float32": torch.float32, "int64": torch.int64, "bool": torch.bool}


@dataclass
class _Captured:
    """A CUDA graph of one execution at fixed shapes, with the static tensors it reads and writes."""

    shapes: tuple[tuple[int, ...], ...]
    graph: torch.cuda.CUDAGraph
    inputs: dict[str, torch.Tensor]
    outputs: dict[str, torch.Tensor]


@dataclass
class _Engine:
    """One graph's deserialised engine and its execution context; ``scratch_bytes`` is the
    activation memory its current input shapes need, ``bound`` the (address, size) of the
    activation memory the context was last given."""

    engine: object
    context: object
    shapes: tuple[tuple[int, ...], ...] | None = None
    scratch_bytes: int = 0
    bound: tuple[int, int] | None = None
    captured: _Captured | None = None


class _Scratch:
    """One block of activation memory for every engine of a backend (they run one at a time, on
    one stream), as large as the largest shapes run so far: sizing each engine's own block for
    its whole profile would take several GB per engine with the default profiles."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.block: torch.Tensor | None = None

    def at_least(self, size: int) -> torch.Tensor:
        """The block, replaced by a larger one when ``size`` bytes do not fit. Call it on the
        stream the engines run on: torch then reuses the old block only after that stream's
        queued work."""
        if self.block is None or self.block.numel() < size:
            self.block = None
            self.block = torch.empty(max(size, 1), dtype=torch.uint8, device=self.device)
        return self.block


def _check_io(engine, spec: GraphSpec, rebuild: str) -> None:
    """The engine's inputs and outputs are the contract's, with its dtypes (fp32 I/O whatever
    the precision inside)."""
    found = {}
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        found[name] = engine.get_tensor_dtype(name).name
    wanted = {t.name: _TRT_DTYPES[t.dtype] for t in (*spec.inputs, *spec.outputs)}
    if found != wanted:
        raise RapSamError(
            f"the {spec.name} engine's tensors {found} are not the contract's {wanted}", f"rebuild it: {rebuild}"
        )


class TensorRTBackend(Backend):
    """Runs the contract's graphs with the TensorRT engines of an export directory.

    Args:
        export: an export directory whose engines ``rapsam-build`` built.
        precision: ``fp32`` or ``fp16`` engines (I/O is fp32 either way).
        variant: ``standard`` or ``plugin`` (loads ``librapsam_trt_plugin``).
        device: a CUDA device.
        cuda_graphs: replay each graph's execution as a CUDA graph while its input shapes stay the
            same (captured again when they change); inputs are copied into the graph's static
            buffers and outputs copied out, so results stay valid across calls.
        engine_dir: where the engines are (default ``EXPORT_DIR/engines/<precision>-<variant>``,
            ``rapsam-build``'s default).
        graphs: the graphs whose engines must be there (default: all five).

    The constructor checks every engine's sidecar, and each engine loads on first use through
    :func:`.engine_file.read_engine`: an engine of another TensorRT version, GPU architecture,
    plugin library or ONNX graph, a missing one or one in the old format, is refused with the
    reason and the ``rapsam-build`` command before TensorRT deserialises anything. A plan without
    a sidecar (built elsewhere) loads with an ``UncheckedEngineWarning``; if TensorRT refuses it,
    the error says so, with the same command.

    Every call runs on the backend's own stream, ordered after the caller's current stream and
    before its later work: TensorRT adds synchronisations on the legacy default stream, which is
    torch's current stream unless the caller sets one. Not thread-safe: each graph has one
    execution context, and the engines share one block of activation memory, sized for the
    largest shapes run so far.
    """

    def __init__(
        self,
        export: ExportDir,
        precision: str = contract.DEFAULT_PRECISION,
        variant: str = contract.DEFAULT_VARIANT,
        device: str | torch.device = "cuda",
        cuda_graphs: bool = False,
        engine_dir: str | Path | None = None,
        graphs: tuple[str, ...] = contract.GRAPH_NAMES,
    ) -> None:
        self._trt = import_tensorrt()
        device = torch.device(device)
        if device.type != "cuda":
            raise RapSamError(f"TensorRT runs on CUDA devices, not {device}", "use device='cuda'")
        gpu_name, capability = gpu_identity(device.index)
        device = torch.device("cuda", torch.cuda.current_device() if device.index is None else device.index)
        self.export = export
        self.export_dir = export.path
        plugin_sha256 = load_plugin_library() if variant == "plugin" else None
        self._expect = {
            graph: EngineExpectation(
                tensorrt=self._trt.__version__,
                gpu_name=gpu_name,
                compute_capability=capability,
                precision=precision,
                variant=variant,
                graph=graph,
                onnx_sha256=export.manifest.artifact(graph, variant, precision).sha256,
                plugin_sha256=plugin_sha256,
                export_dir=str(export.path),
            )
            for graph in graphs
        }
        self.engine_dir = Path(engine_dir) if engine_dir else default_engine_dir(export.path, precision, variant)
        self._check_engines()
        self.cuda_graphs = cuda_graphs
        detail = f"TensorRT {self._trt.__version__}, {gpu_name}" + (", CUDA graphs" if cuda_graphs else "")
        self.info = BackendInfo("tensorrt", str(device), precision, variant, detail)
        self._stream = torch.cuda.Stream(device)
        self._runtime = self._trt.Runtime(tensorrt_logger())
        self._engines: dict[str, _Engine] = {}
        self._scratch = _Scratch(device)

    def _check_engines(self) -> None:
        """Every engine's sidecar against this TensorRT, GPU, plugin and export, up front (so that
        backend selection can fall back at once); the engines themselves load on first use."""
        check_engine_dir(self.engine_dir, list(self._expect.values()))
        for graph, expect in self._expect.items():
            check_engine(engine_path(self.engine_dir, graph), expect)

    # ---- loading ---------------------------------------------------------------------------

    def _engine(self, graph: str) -> _Engine:
        if graph not in self._engines:
            self._engines[graph] = self._load(graph)
        return self._engines[graph]

    def _load(self, graph: str) -> _Engine:
        trt = self._trt
        expect = self._expect.get(graph)
        if expect is None:
            raise RapSamError(
                f"this TensorRTBackend was opened for {sorted(self._expect)}, not {graph}",
                f"pass graphs=(..., {graph!r}) to TensorRTBackend",
            )
        path = engine_path(self.engine_dir, graph)
        sidecar, plan = read_engine(path, expect)
        rebuild = rebuild_command(self.export_dir, expect.precision, expect.variant, [graph])
        with torch.cuda.device(self.device):
            engine = self._runtime.deserialize_cuda_engine(plan)
            if engine is None:
                raise refused_by_tensorrt(path, expect, sidecar, "its messages are above")
            # USER_MANAGED: the activation memory is the backend's shared block (see _Scratch).
            context = engine.create_execution_context(trt.ExecutionContextAllocationStrategy.USER_MANAGED)
            if context is None:
                raise RapSamError(
                    f"TensorRT could not create an execution context for the {graph} engine (its messages are above)",
                    "free GPU memory (other processes, larger batches), or rebuild it with smaller --profile-* "
                    f"ranges: {rebuild}",
                )
        _check_io(engine, contract.graph(graph), rebuild)
        return _Engine(engine, context)

    @staticmethod
    def _scratch_bytes(entry: _Engine) -> int:
        """The activation memory the context's current input shapes need (TensorRT 10's
        ``update_device_memory_size_for_shapes``; 0 means it failed), else the profile's maximum."""
        size = entry.context.update_device_memory_size_for_shapes()
        if size:
            return int(size)
        size = getattr(entry.engine, "device_memory_size_v2", None)
        return int(entry.engine.device_memory_size if size is None else size)

    def _bind_scratch(self, entry: _Engine) -> None:
        """Give the context the shared block, when the block or the size its shapes need changed
        (a captured CUDA graph holds the old address, so it is dropped)."""
        block = self._scratch.at_least(entry.scratch_bytes)
        bound = (block.data_ptr(), entry.scratch_bytes)
        if entry.bound == bound:
            return
        if hasattr(entry.context, "set_device_memory"):
            entry.context.set_device_memory(*bound)
        else:  # TensorRT 10.0
            entry.context.device_memory = bound[0]
        entry.bound, entry.captured = bound, None

    # ---- running ---------------------------------------------------------------------------

    def _prepared(self, spec: GraphSpec, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Inputs as the engine takes them: on this device, in the contract's dtype, contiguous."""
        return {
            t.name: inputs[t.name].to(device=self.device, dtype=_TORCH_DTYPES[t.dtype]).contiguous()
            for t in spec.inputs
        }

    def _set_shapes(self, spec: GraphSpec, entry: _Engine, inputs: dict[str, torch.Tensor], expected: dict) -> None:
        """Set the input shapes when they change, check TensorRT's output shapes against the
        contract's and size the activation memory for them, once per shape."""
        shapes = tuple(tuple(t.shape) for t in inputs.values())
        if shapes == entry.shapes:
            return
        entry.shapes = None
        for name, tensor in inputs.items():
            if not entry.context.set_input_shape(name, tuple(tensor.shape)):
                low, _, high = (tuple(d) for d in entry.engine.get_tensor_profile_shape(name, 0))
                raise RapSamError(
                    f"{spec.name} input {name} has shape {tuple(tensor.shape)}, outside the engine's profile "
                    f"(from {low} to {high})",
                    "rebuild with wider --profile-* ranges: "
                    + rebuild_command(self.export_dir, self.info.precision, self.info.variant, [spec.name]),
                )
        for name, shape in expected.items():
            engine_shape = tuple(entry.context.get_tensor_shape(name))
            if engine_shape != shape:
                raise RapSamError(
                    f"the {spec.name} engine gives {name} the shape {engine_shape}, the contract {shape}",
                    "re-export and rebuild: the engine does not follow this rapsam-deploy's contract",
                )
        entry.scratch_bytes = self._scratch_bytes(entry)
        entry.shapes = shapes

    def _execute(self, entry: _Engine, inputs: dict[str, torch.Tensor], outputs: dict[str, torch.Tensor]) -> None:
        for name, tensor in (*inputs.items(), *outputs.items()):
            entry.context.set_tensor_address(name, tensor.data_ptr())
        if not entry.context.execute_async_v3(torch.cuda.current_stream(self.device).cuda_stream):
            raise RapSamError("TensorRT failed to run the engine (its messages are above)")

    def _capture(self, spec: GraphSpec, entry: _Engine, inputs: dict[str, torch.Tensor], expected: dict) -> _Captured:
        static_in = {name: tensor.clone() for name, tensor in inputs.items()}
        static_out = {name: torch.empty(shape, device=self.device) for name, shape in expected.items()}
        # TensorRT finishes shape-dependent setup in the first enqueue after a shape change,
        # which must not happen during capture.
        self._execute(entry, static_in, static_out)
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph, stream=self._stream):
                self._execute(entry, static_in, static_out)
        except RuntimeError as err:
            raise RapSamError(
                f"CUDA-graph capture of the {spec.name} engine failed ({err})", "use cuda_graphs=False"
            ) from err
        return _Captured(tuple(tuple(t.shape) for t in inputs.values()), graph, static_in, static_out)

    def _replay(self, spec: GraphSpec, entry: _Engine, inputs: dict, expected: dict) -> dict[str, torch.Tensor]:
        """The captured graph's static outputs after a replay on ``inputs`` (captured first if
        the shapes are new); the caller copies them out."""
        shapes = tuple(tuple(t.shape) for t in inputs.values())
        if entry.captured is None or entry.captured.shapes != shapes:
            entry.captured = None
            entry.captured = self._capture(spec, entry, inputs, expected)
        captured = entry.captured
        for name, tensor in inputs.items():
            captured.inputs[name].copy_(tensor)
        captured.graph.replay()
        return captured.outputs

    def _run(self, spec: GraphSpec, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        entry = self._engine(spec.name)
        caller = torch.cuda.current_stream(self.device)
        inputs = self._prepared(spec, inputs)
        expected = output_shapes(spec, inputs, self.export.num_classes)
        # Allocated on the caller's stream, like every tensor it hands us, so that torch's
        # allocator reuses their memory only after the caller's stream has waited for ours.
        outputs = None if self.cuda_graphs else {n: torch.empty(s, device=self.device) for n, s in expected.items()}
        self._stream.wait_stream(caller)
        with torch.cuda.device(self.device), torch.cuda.stream(self._stream):
            self._set_shapes(spec, entry, inputs, expected)
            self._bind_scratch(entry)
            if outputs is None:
                static = self._replay(spec, entry, inputs, expected)
            else:
                self._execute(entry, inputs, outputs)
        caller.wait_stream(self._stream)
        if outputs is None:
            outputs = {name: tensor.clone() for name, tensor in static.items()}
        return outputs
