"""Files on disk: atomic writes and hashes, dataclasses as JSON, the software versions a result records."""
