"""The Python-backend models of a generated repository. They run inside Triton's Python backend
(its embedded interpreter imports them through the ``model.py`` files ``rapsam-serve
repository`` writes) and reuse the project's own pre- and post-processing and predictors."""
