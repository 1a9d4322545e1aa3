"""``--precision auto`` (``backends.fastest``): the fastest form that passes its task gates,
timed on this machine once and cached; a form the export did not validate, or that missed its
gates, is never picked."""

from __future__ import annotations

import json

import pytest

from rapsam_deploy.artifacts.export_dir import ExportDir
from rapsam_deploy.artifacts.manifest import Manifest
from rapsam_deploy.backends import fastest
from rapsam_deploy.backends.select import create_backend
from rapsam_deploy.errors import RapSamError


@pytest.fixture
def export(exported_r18, tmp_path, monkeypatch) -> ExportDir:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return ExportDir.open(exported_r18[0])


def test_times_every_passing_form_and_picks_the_fastest(export, monkeypatch):
    speeds = {"fp32": 30.0, "fp16": 10.0, "int8": 1.0}
    monkeypatch.setattr(fastest, "time_form", lambda backend, _: speeds[backend.info.precision])
    backend = create_backend("onnxruntime", export, "auto")
    # int8 would be fastest, but this export has no int8 form: fp16 passed its gates.
    assert export.manifest.task_misses("standard/fp16") == []
    assert (backend.info.name, backend.info.precision) == ("onnxruntime", "fp16")
    cache = json.loads(fastest.cache_file().read_text())
    (entry,) = cache.values()
    assert entry == {"choice": ["onnxruntime", "fp16"], "timings": {"onnxruntime/fp32": 30.0, "onnxruntime/fp16": 10.0}}


def test_the_choice_is_cached_per_export_and_machine(export, monkeypatch):
    monkeypatch.setattr(fastest, "time_form", lambda backend, _: 5.0 if backend.info.precision == "fp32" else 9.0)
    assert create_backend("onnxruntime", export, "auto").info.precision == "fp32"

    def must_not_time(*_):
        raise AssertionError("timed again despite the cache")

    monkeypatch.setattr(fastest, "time_form", must_not_time)
    assert create_backend("onnxruntime", export, "auto").info.precision == "fp32"


def test_a_form_that_missed_its_gates_is_never_picked(export, monkeypatch):
    monkeypatch.setattr(fastest, "time_form", lambda backend, _: 50.0 if backend.info.precision == "fp32" else 1.0)
    monkeypatch.setattr(Manifest, "task_misses", lambda self, form: ["mask IoU mean 0.5 < 0.99"])
    assert create_backend("onnxruntime", export, "auto").info.precision == "fp32"


def test_reduced_precision_of_an_unvalidated_export_is_never_picked(tmp_path, monkeypatch):
    from rapsam_deploy.export import export_model

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = tmp_path / "r18"
    export_model(output=out, image_size=(64, 64), precisions=("fp32", "fp16"), validate=False, log=lambda _: None)
    monkeypatch.setattr(fastest, "time_form", lambda backend, _: 50.0 if backend.info.precision == "fp32" else 1.0)
    export = ExportDir.open(out)
    assert export.manifest.task_misses("standard/fp16") is None
    assert create_backend("onnxruntime", export, "auto").info.precision == "fp32"


def test_no_runnable_form_is_one_clear_error(export, monkeypatch):
    def fails(*_):
        raise RapSamError("cannot run here")

    monkeypatch.setattr(fastest, "time_form", fails)
    with pytest.raises(RapSamError, match="no form of this export passes and runs here"):
        create_backend("onnxruntime", export, "auto")
