"""A table written chunk by chunk, so a killed job continues where it stopped, without duplicated or lost rows.

While the job runs, ``OUTPUT.parts/`` holds one Parquet file per finished chunk and ``manifest.json``
(the job's settings and the finished chunks with their row counts). A chunk counts as finished once
its part and then the manifest naming it were each renamed into place: a job killed between the two
writes the chunk again. When every chunk is there, the parts are joined in chunk order into
``OUTPUT`` (CSV or Parquet, by its suffix; one part in memory at a time), renamed into place, and
the parts directory is removed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from genmodels.errors import OutputError
from genmodels.io.files import atomic_path, write_text_atomic

MANIFEST_NAME = "manifest.json"
OUTPUT_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


class ChunkedTableOutput:
    """The parts of one job's output table; ``job`` (JSON-ready settings) must match to continue a job."""

    def __init__(self, output: Path, job: dict[str, Any]) -> None:
        if output.suffix not in OUTPUT_FORMATS:
            raise OutputError(f"{output}: chunked output is .csv or .parquet, got {output.suffix or 'no suffix'}")
        if output.exists():
            raise OutputError(f"{output} already exists; remove it or choose another output")
        self.output, self.job = output, json.loads(json.dumps(job))
        self.parts = output.with_name(output.name + ".parts")
        self.completed: dict[int, int] = {}
        manifest = self.parts / MANIFEST_NAME
        if manifest.is_file():
            saved = json.loads(manifest.read_text(encoding="utf-8"))
            if saved["job"] != self.job:
                changed = sorted(key for key in {**saved["job"], **self.job} if saved["job"].get(key) != job.get(key))
                raise OutputError(
                    f"{self.parts} holds the parts of a job with other settings ({', '.join(changed)}); "
                    "run it with those settings to continue, or remove the directory to start over"
                )
            self.completed = {int(index): rows for index, rows in saved["completed"].items()}

    @property
    def rows_done(self) -> int:
        return sum(self.completed.values())

    def is_done(self, index: int) -> bool:
        return index in self.completed

    def write(self, index: int, frame: pd.DataFrame) -> None:
        """Commit chunk ``index``: its part first, then the manifest that names it."""
        with atomic_path(self._part(index)) as temporary:
            frame.to_parquet(temporary, index=False)
        self.completed[index] = len(frame)
        manifest = {"job": self.job, "completed": {str(key): rows for key, rows in sorted(self.completed.items())}}
        write_text_atomic(self.parts / MANIFEST_NAME, json.dumps(manifest, indent=1) + "\n")

    def finish(self, chunks: int) -> int:
        """Join chunks ``0 .. chunks - 1`` into the output; returns its number of rows."""
        missing = [index for index in range(chunks) if index not in self.completed]
        if missing:
            raise OutputError(f"{self.parts}: chunks {missing[:5]} were never written; run the job again")
        with atomic_path(self.output) as temporary:
            if OUTPUT_FORMATS[self.output.suffix] == "csv":
                self._join_csv(temporary, chunks)
            else:
                self._join_parquet(temporary, chunks)
        shutil.rmtree(self.parts)
        return sum(self.completed[index] for index in range(chunks))

    def _part(self, index: int) -> Path:
        return self.parts / f"part-{index:06d}.parquet"

    def _join_csv(self, target: Path, chunks: int) -> None:
        with target.open("w", newline="", encoding="utf-8") as stream:
            for index in range(chunks):
                pd.read_parquet(self._part(index)).to_csv(stream, index=False, header=index == 0)

    def _join_parquet(self, target: Path, chunks: int) -> None:
        import pyarrow.parquet as parquet

        writer = None
        try:
            for index in range(chunks):
                table = parquet.read_table(self._part(index))
                writer = writer or parquet.ParquetWriter(str(target), table.schema)
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
