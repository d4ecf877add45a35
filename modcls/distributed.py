"""Scoring beyond one machine: a batch predictor for Ray Data and Spark, and the ``--engine ray`` job.

:class:`BatchPredictor` loads the model once in ``__init__`` and labels a batch in ``__call__``:

* Ray Data: ``ds.map_batches(BatchPredictor, fn_constructor_kwargs={"model": DIR}, batch_format="pyarrow",
  compute=ray.data.ActorPoolStrategy(size=4))`` — the batch (a pyarrow Table or a dict of columns) comes
  back with ``topic, topic_scores, sensitivity, flags, route, priority, reasons`` and ``error`` added.
* Spark: ``predict_batch_udf(lambda: BatchPredictor(DIR, layout="flat"), return_type=..., batch_size=64)``
  — the batch is the array of texts; the answer is flat columns (see :func:`flat_schema`).

A row that cannot be classified (no text, empty, too long) gets null labels and its reason in ``error``
instead of failing the whole job. Ray is an optional extra: ``pip install modcls[ray]``.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .batch_io import ADDED_FIELDS
from .errors import InputError
from .moderator import Moderator, check_text
from .results import ParagraphResult

#: Columns added by the nested layout (Ray): those of ``modcls classify``, plus ``error``.
NESTED_FIELDS = (*ADDED_FIELDS, "error")
LAYOUTS = ("nested", "flat")
_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet", ".txt": "text",
               ".text": "text"}


class BatchPredictor:
    """A picklable callable for cluster engines: the model is loaded once per worker, in ``__init__``.

    ``__call__(batch)`` takes a dict of columns (``{text_column: array, ...}``), a pyarrow Table, or a
    bare array of texts (Spark's ``predict_batch_udf``). With a table or a dict the input columns are
    kept and the label columns added (replacing columns of the same name); with a bare array only the
    label columns come back. ``layout="flat"`` gives scalar columns only (``flat_schema()``), for Spark.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        policy: str | Path | None = None,
        precision: str = "auto",
        text_column: str = "text",
        batch_size: int = 32,
        layout: str = "nested",
        skip_invalid: bool = False,
        num_threads: int | None = None,
    ) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
        if num_threads:
            import torch

            torch.set_num_threads(num_threads)
        self.moderator = Moderator.from_pretrained(model, policy=policy, precision=precision)
        self.text_column = text_column
        self.batch_size = batch_size
        self.layout = layout
        self.skip_invalid = skip_invalid

    # -- the callable ---------------------------------------------------------------------------
    def __call__(self, batch: Any) -> Any:
        if _is_arrow_table(batch):
            return self._arrow(batch)
        if isinstance(batch, Mapping):
            if self.text_column not in batch:
                raise InputError(f"the batch has no {self.text_column!r} column (columns: {', '.join(batch)})")
            columns, keep = self.label(list(batch[self.text_column]))
            out = {k: _take(np.asarray(v), keep) for k, v in batch.items() if k not in columns}
            return out | {k: _as_array(v) for k, v in columns.items()}
        columns, _ = self.label(list(np.asarray(batch).ravel()))
        return {k: _as_array(v) for k, v in columns.items()}

    def label(self, texts: Sequence[Any]) -> tuple[dict[str, list[Any]], list[int] | None]:
        """Label columns for ``texts`` (one value per kept row) and the kept row positions (None: all)."""
        errors: list[str | None] = []
        for text in texts:
            try:
                check_text(text, "text")
                errors.append(None)
            except InputError as err:
                errors.append(str(err))
        good = [i for i, e in enumerate(errors) if e is None]
        results: list[ParagraphResult | None] = [None] * len(texts)
        if good:
            scored = self.moderator.classify([texts[i] for i in good], batch_size=self.batch_size, evidence=False)
            for i, r in zip(good, scored):
                results[i] = r
        keep = None
        if self.skip_invalid and len(good) < len(texts):
            keep = good
            results = [results[i] for i in good]
            errors = [None] * len(good)
        columns = self._flat(results, errors) if self.layout == "flat" else self._nested(results, errors)
        return columns, keep

    # -- layouts --------------------------------------------------------------------------------
    def _nested(self, results: list[ParagraphResult | None], errors: list[str | None]) -> dict[str, list[Any]]:
        columns: dict[str, list[Any]] = {f: [] for f in NESTED_FIELDS}
        for r, e in zip(results, errors):
            full = r.to_dict() if r is not None else {}
            for f in ADDED_FIELDS:
                columns[f].append(full.get(f))
            columns["error"].append(e)
        return columns

    def _flat(self, results: list[ParagraphResult | None], errors: list[str | None]) -> dict[str, list[Any]]:
        columns: dict[str, list[Any]] = {name: [] for name, _ in flat_schema(self.moderator.categories)}
        for r, e in zip(results, errors):
            columns["topic"].append(r.topic if r else None)
            columns["topic_score"].append(r.topic_scores[r.topic] if r else None)
            columns["route"].append(r.route if r else None)
            columns["priority"].append(r.priority if r else None)
            columns["flags"].append(",".join(r.flags) if r else None)
            columns["error"].append(e)
            for c in self.moderator.categories:
                columns[f"score_{c}"].append(r.sensitivity[c] if r else None)
        return columns

    def _arrow(self, table: Any) -> Any:
        import pyarrow as pa

        if self.text_column not in table.column_names:
            raise InputError(f"the batch has no {self.text_column!r} column (columns: {', '.join(table.column_names)})")
        columns, keep = self.label(table.column(self.text_column).to_pylist())
        if keep is not None:
            table = table.take(pa.array(keep, type=pa.int64()))
        types = self._arrow_types()
        for name, values in columns.items():
            array = pa.array(values, type=types.get(name))
            if name in table.column_names:
                table = table.set_column(table.column_names.index(name), name, array)
            else:
                table = table.append_column(name, array)
        return table

    def _arrow_types(self) -> dict[str, Any]:
        import pyarrow as pa

        if self.layout == "flat":
            schema = flat_schema(self.moderator.categories)
            return {n: pa.string() if k == "string" else pa.float64() for n, k in schema}
        return {
            "topic": pa.string(),
            "topic_scores": pa.struct([(t, pa.float64()) for t in self.moderator.topics]),
            "sensitivity": pa.struct([(c, pa.float64()) for c in self.moderator.categories]),
            "flags": pa.list_(pa.string()),
            "route": pa.string(),
            "priority": pa.string(),
            "reasons": pa.list_(pa.string()),
            "error": pa.string(),
        }


def flat_schema(categories: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """``(column, "string" | "double")`` of the flat layout, e.g. to build Spark's return StructType."""
    from .labels import CATEGORIES

    fixed = [("topic", "string"), ("topic_score", "double"), ("route", "string"), ("priority", "string"),
             ("flags", "string"), ("error", "string")]
    return fixed + [(f"score_{c}", "double") for c in (categories or CATEGORIES)]


# -- the Ray job ----------------------------------------------------------------------------------------
def resolve_inputs(spec: str | Sequence[str], fmt: str = "auto") -> tuple[list[str], str]:
    """Files named by ``spec`` (comma-separated files, folders, globs or remote URIs) and their format.

    A folder stands for the data files directly in it. The format (``jsonl``, ``parquet`` or ``text``)
    comes from the extensions unless ``fmt`` names it; mixed formats are refused.
    """
    parts = [p.strip() for p in (spec.split(",") if isinstance(spec, str) else spec) if p.strip()]
    files: list[str] = []
    for part in parts:
        if "://" in part:
            files.append(part)
        elif Path(part).is_dir():
            found = sorted(str(p) for p in Path(part).iterdir() if p.is_file() and p.suffix.lower() in _EXTENSIONS)
            if not found:
                raise InputError(f"no .jsonl, .json, .parquet or .txt files in {part}")
            files += found
        elif any(ch in part for ch in "*?["):
            found = sorted(glob.glob(part))
            if not found:
                raise InputError(f"no file matches {part}")
            files += found
        elif Path(part).is_file():
            files.append(part)
        else:
            raise FileNotFoundError(f"input not found: {part}")
    if not files:
        raise InputError("no input files")
    if fmt != "auto":
        return [_absolute(f) for f in files], fmt
    kinds = {_EXTENSIONS.get(Path(f.split("?")[0]).suffix.lower()) for f in files}
    if None in kinds:
        raise InputError("cannot tell the format of every input from its extension: use --format")
    if len(kinds) > 1:
        raise InputError(f"inputs mix formats ({', '.join(sorted(kinds))}): score one format at a time")
    return [_absolute(f) for f in files], kinds.pop()


def run_ray_job(
    inputs: str | Sequence[str],
    output: str,
    *,
    model: str | Path | None = None,
    policy: str | Path | None = None,
    precision: str = "auto",
    fmt: str = "auto",
    output_format: str | None = None,
    text_column: str = "text",
    address: str | None = None,
    workers: int = 1,
    worker_cpus: float = 1.0,
    io_cpus: float = 0.25,
    rows_per_batch: int = 256,
    batch_size: int = 32,
    skip_invalid: bool = False,
) -> dict[str, Any]:
    """Score ``inputs`` into the folder ``output`` with Ray Data; return what was done.

    ``address`` is a Ray cluster (``ray://head:10001``, ``auto``); None starts a local instance (stopped
    afterwards). ``workers`` model replicas run with ``worker_cpus`` CPUs each; reads and writes take
    ``io_cpus``. Every node needs the model folder at the same path (or shared storage) and the base
    encoder restored (``modcls base``); ``MODCLS_HOME`` is passed on to the workers.
    """
    import ray

    files, kind = resolve_inputs(inputs, fmt)
    out_kind = output_format or ("parquet" if kind == "parquet" else "jsonl")
    if out_kind not in ("jsonl", "parquet"):
        raise InputError(f"unknown output format {out_kind!r}; expected jsonl or parquet")
    model_path = _absolute(str(model)) if model is not None else None
    policy_path = _absolute(str(policy)) if policy is not None else None
    started_here = not ray.is_initialized()
    if started_here:
        env = {k: os.environ[k] for k in ("MODCLS_HOME",) if k in os.environ}
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": env} if env else None)
    try:
        if kind == "parquet":
            ds = ray.data.read_parquet(files, num_cpus=io_cpus)
        elif kind == "text":
            ds = ray.data.read_text(files, num_cpus=io_cpus)
            text_column = "text"
        else:
            ds = ray.data.read_json(files, num_cpus=io_cpus)
        ds = ds.map_batches(
            BatchPredictor,
            fn_constructor_kwargs={"model": model_path, "policy": policy_path, "precision": precision,
                                   "text_column": text_column, "batch_size": batch_size,
                                   "skip_invalid": skip_invalid},
            batch_size=rows_per_batch,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=worker_cpus,
        )
        remote = {"num_cpus": io_cpus}
        if out_kind == "parquet":
            ds.write_parquet(output, ray_remote_args=remote)
        else:
            ds.write_json(output, ray_remote_args=remote, force_ascii=False)
    finally:
        if started_here:
            ray.shutdown()
    return {"inputs": len(files), "input_format": kind, "output": output, "output_format": out_kind}


def _absolute(path: str) -> str:
    return path if "://" in path else str(Path(path).expanduser().resolve())


def _is_arrow_table(batch: Any) -> bool:
    return type(batch).__module__.startswith("pyarrow") and hasattr(batch, "column_names")


def _take(values: np.ndarray, keep: list[int] | None) -> np.ndarray:
    return values if keep is None else values[keep]


def _as_array(values: list[Any]) -> np.ndarray:
    if values and all(isinstance(v, str) for v in values):
        return np.asarray(values, dtype=object)
    if values and all(isinstance(v, float) for v in values):
        return np.asarray(values, dtype=np.float64)
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


__all__ = ["BatchPredictor", "flat_schema", "resolve_inputs", "run_ray_job"]
