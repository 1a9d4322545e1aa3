"""rapsam-deploy: export, engines, runtimes and benchmarks for RAP-SAM."""

__version__ = "0.1.0"
