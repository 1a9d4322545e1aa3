"""Command-line entry points: thin layers over the Python API."""
