"""Backends and predictors over an export directory's graphs."""
