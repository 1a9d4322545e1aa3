"""The client of a served repository (gRPC): panoptic results of an encoded image, and prompt
masks of an image sent once and prompted by its id; what it gets back is what the local
predictors give, so ``rapsam-infer --server`` writes the same files as a local run."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from ..errors import RapSamError
from ..predict.prompt import PromptPrediction
from . import names


def _grpc():
    try:
        import tritonclient.grpc as grpc_client
        from tritonclient.utils import InferenceServerException
    except ImportError as err:
        raise RapSamError("the Triton client is not installed", "pip install 'rapsam-deploy[serve]'") from err
    return grpc_client, InferenceServerException


def _tensor(grpc_client, name: str, value: np.ndarray, datatype: str):
    tensor = grpc_client.InferInput(name, list(value.shape), datatype)
    tensor.set_data_from_numpy(value)
    return tensor


def _bytes(grpc_client, name: str, data: bytes):
    """Bytes as the UINT8 vector the serving API carries them in (``serve.names``)."""
    return _tensor(grpc_client, name, np.frombuffer(data, dtype=np.uint8), "UINT8")


class ImageNotCached(RapSamError):
    """The prompt model does not hold the image id a request names (evicted, or another instance)."""


class TritonClient:
    """``url``: the server's gRPC address ``HOST:PORT``; ``prefix``: the repository's model-name
    prefix; ``timeout_s``: the longest a request may take before it counts as failed."""

    def __init__(self, url: str, prefix: str = names.DEFAULT_PREFIX, timeout_s: float = 120.0) -> None:
        self.grpc, self.error = _grpc()
        self.url, self.prefix, self.timeout_s = url, prefix, timeout_s
        try:
            self.client = self.grpc.InferenceServerClient(url)
            ready = self.client.is_server_ready(client_timeout=10)
        except self.error as err:
            raise RapSamError(
                f"no Triton server answers at {url} ({err.message()})",
                "start one: rapsam-serve start REPO, and pass its gRPC port",
            ) from err
        if not ready:
            raise RapSamError(f"the Triton server at {url} is not ready", "wait for it, or look at its log")
        self.label = self._label()

    def _label(self) -> str:
        model = names.model_name(self.prefix, names.PANOPTIC)
        try:
            self.client.get_model_metadata(model, client_timeout=10)
        except self.error as err:
            raise RapSamError(
                f"the server at {self.url} has no model {model} ({err.message()})",
                "serve a repository written by rapsam-serve, or pass its --model-prefix",
            ) from err
        return f"{model} at {self.url}"

    def _infer(self, role: str, inputs: list, outputs: list[str]):
        model = names.model_name(self.prefix, role)
        try:
            return self.client.infer(
                model,
                inputs,
                outputs=[self.grpc.InferRequestedOutput(name) for name in outputs],
                client_timeout=self.timeout_s,
            )
        except self.error as err:
            if err.status() == "StatusCode.NOT_FOUND":
                raise ImageNotCached(f"{model} at {self.url}: {err.message()}") from err
            if err.status() == "StatusCode.INVALID_ARGUMENT":  # the server's own message, with its fix
                raise RapSamError(f"{model} at {self.url}: {err.message()}") from err
            raise RapSamError(f"{model} at {self.url} failed: {err.message()}", _advice(err.status())) from err

    def panoptic(self, image: bytes, score_thr: float) -> tuple[np.ndarray, dict]:
        """An encoded image -> its panoptic id map [H,W] int32 and the results JSON (segments and
        instances scoring above ``score_thr``), as ``rapsam-infer`` writes it."""
        inputs = [
            _bytes(self.grpc, names.IMAGE, image),
            _tensor(self.grpc, names.SCORE_THRESHOLD, np.array([score_thr], np.float32), "FP32"),
        ]
        result = self._infer(names.PANOPTIC, inputs, [names.PANOPTIC_ID_MAP, names.RESULT_JSON])
        return result.as_numpy(names.PANOPTIC_ID_MAP), json.loads(result.as_numpy(names.RESULT_JSON).tobytes())

    def prompt(
        self, points=None, boxes=None, image: bytes | None = None, image_id: str | None = None
    ) -> PromptPrediction:
        """Masks for ``points`` [P,2] and/or ``boxes`` [Q,4] (original pixels), best predicted IoU
        first: on ``image`` (encoded bytes; the server encodes it and keeps it as ``image_id``,
        by default the sha256 of the bytes), or, without ``image``, on the image sent before as
        ``image_id`` (only the prompt graphs run)."""
        if image is None and image_id is None:
            raise RapSamError("no image to prompt", "pass the image, or the image_id it was sent with")
        image_id = image_id or hashlib.sha256(image).hexdigest()
        inputs = [_bytes(self.grpc, names.IMAGE_ID, image_id.encode())]
        if image is not None:
            inputs.append(_bytes(self.grpc, names.IMAGE, image))
        for name, values, width in ((names.POINTS, points, 2), (names.BOXES, boxes, 4)):
            if values is not None and len(values):
                inputs.append(_tensor(self.grpc, name, np.asarray(values, np.float32).reshape(-1, width), "FP32"))
        result = self._infer(names.PROMPT, inputs, [names.MASKS, names.IOU, names.PROMPT_INDEX])
        return PromptPrediction(
            result.as_numpy(names.MASKS), result.as_numpy(names.IOU), result.as_numpy(names.PROMPT_INDEX)
        )

    def click(
        self, points=None, boxes=None, image: bytes | None = None, image_id: str | None = None
    ) -> PromptPrediction:
        """:meth:`prompt` by image id alone (only the prompt graphs run), sending ``image`` again
        only when the server no longer holds it (another instance, or evicted)."""
        image_id = image_id or hashlib.sha256(image).hexdigest()
        try:
            return self.prompt(points, boxes, image_id=image_id)
        except ImageNotCached:
            if image is None:
                raise
            return self.prompt(points, boxes, image=image, image_id=image_id)

    def close(self) -> None:
        self.client.close()


def _advice(status: str) -> str:
    if status == "StatusCode.UNAVAILABLE":
        return "the server's queue is full or it is stopping: send fewer requests at once, or serve more instances"
    if status == "StatusCode.DEADLINE_EXCEEDED":
        return "the request took longer than the client's timeout: the server is overloaded, or raise the timeout"
    return "see the server's log"
