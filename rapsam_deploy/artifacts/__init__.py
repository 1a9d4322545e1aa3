"""The ground floor: the graph contract, the manifest, the opened export directory and file
helpers: what every later stage reads, importing nothing above it."""
