"""``rapsam-serve start``: a Triton Inference Server on a generated repository.

The server is a ``tritonserver`` on PATH (NVIDIA's server images), or the one inside the
``nvidia-pytriton`` wheel (``pip install --no-deps nvidia-pytriton``: a real tritonserver with
the Python backend only), for which the Python backend's folder is assembled with the stub of
this Python's version. What the server's embedded Python needs (this environment's import
path, the interpreter's shared library) goes in its environment. It runs in its own process
session with a parent-death signal, so that it never outlives the process that started it.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RapSamError
from .repository import REPOSITORY_FILE

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ServerBinary:
    """A tritonserver and, for the pytriton wheel's, where its Python backend and libraries are."""

    path: Path
    wheel_root: Path | None = None  # pytriton/tritonserver of the nvidia-pytriton wheel


def find_server(explicit: Path | None = None) -> ServerBinary:
    """``explicit``, else ``tritonserver`` on PATH, else the nvidia-pytriton wheel's."""
    if explicit is not None:
        if not Path(explicit).is_file():
            raise RapSamError(f"--server-binary {explicit} does not exist", "give the path of a tritonserver binary")
        return ServerBinary(Path(explicit))
    on_path = shutil.which("tritonserver")
    if on_path:
        return ServerBinary(Path(on_path))
    # Found, not imported: the wheel's Python package needs what we install it without.
    spec = importlib.util.find_spec("pytriton")
    root = Path(spec.origin).parent / "tritonserver" if spec and spec.origin else None
    if root is None or not (root / "bin" / "tritonserver").is_file():
        raise RapSamError(
            "no Triton server found: no tritonserver on PATH and no nvidia-pytriton wheel",
            "pip install --no-deps nvidia-pytriton (its tritonserver runs the Python backend; the wheel pins numpy<2, "
            "which its server does not need), or use NVIDIA's tritonserver image, or pass --server-binary",
        )
    return ServerBinary(root / "bin" / "tritonserver", root)


def free_port() -> int:
    """A TCP port free now (Triton refuses port 0, so ports are picked up front)."""
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        return probe.getsockname()[1]


def check_port(port: int, option: str) -> None:
    """A port given on the command line, refused at once if something listens there (the
    server would fail on it, and a ready check could answer for the other server)."""
    with socket.socket() as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError as err:
            raise RapSamError(f"{option} {port} is in use ({err.strerror})",
                              "choose another port, or stop what listens there") from err  # fmt: skip


def _set_parent_death_signal() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class ServerOptions:
    """``rapsam-serve start``'s options; ports default to free ones."""

    repository: Path
    http_port: int | None = None
    grpc_port: int | None = None
    metrics_port: int | None = None
    binary: Path | None = None
    exit_timeout_s: int = 5
    ready_timeout_s: float = 300.0
    log: Path | None = None
    extra_args: list[str] = field(default_factory=list)


class TritonServer:
    """A running server: ``with TritonServer(options) as server: server.grpc_url``. Starting
    waits until the server is ready; a server that stops while starting (a model that fails to
    load, a port in use) is one :class:`RapSamError` with the server's own error lines."""

    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self.repository = Path(options.repository)
        self.description = self._read_repository()
        self.binary = find_server(options.binary)
        self.process: subprocess.Popen | None = None
        self._temporary = tempfile.TemporaryDirectory(prefix="rapsam-serve-")
        self.log_path = Path(options.log) if options.log else Path(self._temporary.name) / "tritonserver.log"
        given = {
            "--http-port": options.http_port,
            "--grpc-port": options.grpc_port,
            "--metrics-port": options.metrics_port,
        }
        for option, port in given.items():
            if port is not None:
                check_port(port, option)
        self.http_port = options.http_port or free_port()
        self.grpc_port = options.grpc_port or free_port()
        self.metrics_port = options.metrics_port or free_port()

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    def _read_repository(self) -> dict:
        path = self.repository / REPOSITORY_FILE
        if not self.repository.is_dir():
            raise RapSamError(
                f"model repository {self.repository} does not exist",
                "write one: rapsam-serve repository EXPORT_DIR --output REPO",
            )
        if not path.is_file():
            return {}  # a repository of someone else's: served as it is
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise RapSamError(f"{path} is damaged ({err})", "write the repository again with rapsam-serve") from err

    def command(self) -> list[str]:
        """The tritonserver command line."""
        command = [
            str(self.binary.path),
            f"--model-repository={self.repository.resolve()}",
            f"--http-port={self.http_port}",
            f"--grpc-port={self.grpc_port}",
            f"--metrics-port={self.metrics_port}",
            f"--exit-timeout-secs={self.options.exit_timeout_s}",
            "--exit-on-error=true",
            "--strict-readiness=true",
        ]
        if self.binary.wheel_root is not None:
            command.append(f"--backend-directory={self._wheel_backends()}")
        plugins = [str((self.repository / p).resolve()) for p in self.description.get("tensorrt_plugins", [])]
        if plugins:
            command.append(f"--backend-config=tensorrt,plugins={';'.join(plugins)}")
        return command + list(self.options.extra_args)

    def _wheel_backends(self) -> Path:
        """The Python backend of the nvidia-pytriton wheel with the stub of this Python."""
        root = self.binary.wheel_root
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        stub = root / "python_backend_stubs" / version / "triton_python_backend_stub"
        if not stub.is_file():
            raise RapSamError(
                f"the nvidia-pytriton wheel has no Python backend stub for Python {version}",
                "run rapsam-serve with a Python the wheel supports (3.8 to 3.13)",
            )
        backends = Path(self._temporary.name) / "backends"
        python = backends / "python"
        python.mkdir(parents=True, exist_ok=True)
        for source in (*(root / "backends" / "python").iterdir(), stub):
            if source.is_file():
                shutil.copy2(source, python / source.name)
        return backends

    def environment(self) -> dict[str, str]:
        """This environment, plus what the server's embedded Python needs: the import path of
        this interpreter (rapsam-deploy and its dependencies) and its shared library."""
        env = dict(os.environ)
        entries = [entry for entry in sys.path if entry and Path(entry).is_dir()]
        env["PYTHONPATH"] = os.pathsep.join(entries)
        libraries = [sysconfig.get_config_var("LIBDIR") or ""]
        if self.binary.wheel_root is not None:
            libraries.append(str(self.binary.wheel_root.parents[1] / "nvidia_pytriton.libs"))
        libraries.append(env.get("LD_LIBRARY_PATH", ""))
        env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in libraries if p)
        return env

    def start(self) -> TritonServer:
        with open(self.log_path, "wb") as log:  # the server keeps its own descriptor of it
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                start_new_session=True,
                preexec_fn=_set_parent_death_signal,
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.options.ready_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RapSamError(
                    f"the Triton server stopped while starting (exit status {self.process.returncode}):\n"
                    + self.errors(),
                    f"its whole log: {self.log_path}",
                )
            if self.ready():
                return
            time.sleep(0.25)
        self.stop()
        raise RapSamError(
            f"the Triton server was not ready after {self.options.ready_timeout_s:.0f} s:\n" + self.errors(),
            f"its whole log: {self.log_path}",
        )

    def ready(self) -> bool:
        """The server answers that it and every model are ready."""
        try:
            with urllib.request.urlopen(f"http://{self.http_url}/v2/health/ready", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def errors(self) -> str:
        """The server's own error lines (models that failed to load, a port in use)."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "  (no log)"
        wanted = [line for line in lines if line.startswith("E") or "UNAVAILABLE" in line or line.startswith("error")]
        return "\n".join(f"  {line.strip()}" for line in (wanted or lines[-10:])[-20:])

    def stop(self) -> int:
        """Stop the server (SIGTERM, then SIGKILL after the exit timeout); its exit status."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=self.options.exit_timeout_s + 10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode

    def wait(self) -> int:
        """Run until the server stops, passing SIGINT and SIGTERM on to it; its exit status."""

        def forward(signum, frame) -> None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

        previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            return self.process.wait()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def __enter__(self) -> TritonServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        self._temporary.cleanup()
