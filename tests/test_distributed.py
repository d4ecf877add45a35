"""The batch predictor (Ray Data / Spark callable) and ``modcls classify --engine ray`` on a local Ray."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from modcls.batch_io import ADDED_FIELDS
from modcls.cli import main
from modcls.distributed import BatchPredictor, flat_schema, resolve_inputs
from modcls.errors import InputError
from tests.conftest import write_jsonl

TEXTS = ["La police a mis en examen un homme.", "Météo : pluie et soleil.", "Le match de football."]


@pytest.fixture(scope="module")
def predictor(tiny_model_dir) -> BatchPredictor:
    return BatchPredictor(tiny_model_dir)


def test_dict_batch_keeps_columns_and_matches_classify(predictor, moderator):
    batch = {"id": np.array([1, 2, 3]), "text": np.array(TEXTS, dtype=object), "topic": np.array(["x"] * 3)}
    out = predictor(batch)
    assert list(out["id"]) == [1, 2, 3] and list(out["text"]) == TEXTS
    expected = [r.to_dict() for r in moderator.classify(TEXTS)]
    for field in ADDED_FIELDS:
        assert list(out[field]) == [e[field] for e in expected], field
    assert list(out["error"]) == [None, None, None]


def test_bad_rows_get_an_error_or_are_skipped(tiny_model_dir, predictor):
    out = predictor({"text": np.array(["", TEXTS[0], None], dtype=object), "id": np.array(["a", "b", "c"])})
    assert out["route"][1] is not None and out["route"][0] is None and out["route"][2] is None
    assert "empty" in out["error"][0] and "must be a string" in out["error"][2] and out["error"][1] is None
    skipping = BatchPredictor(tiny_model_dir, skip_invalid=True)
    out = skipping({"text": np.array(["", TEXTS[0]], dtype=object), "id": np.array(["a", "b"])})
    assert list(out["id"]) == ["b"] and len(out["topic"]) == 1
    with pytest.raises(InputError, match="no 'text' column"):
        predictor({"body": np.array(["x"])})


def test_spark_style_array_batch_flat_layout(tiny_model_dir, moderator):
    flat = BatchPredictor(tiny_model_dir, layout="flat")
    out = flat(np.array(TEXTS, dtype=object))  # what predict_batch_udf passes: one array per input column
    assert list(out) == [name for name, _ in flat_schema()]
    expected = moderator.classify(TEXTS)
    assert list(out["topic"]) == [r.topic for r in expected]
    assert list(out["flags"]) == [",".join(r.flags) for r in expected]
    assert out["score_drugs"].dtype == np.float64 and out["topic_score"].shape == (3,)
    with pytest.raises(ValueError, match="unknown layout"):
        BatchPredictor(tiny_model_dir, layout="wide")


def test_arrow_batch(predictor):
    pa = pytest.importorskip("pyarrow")
    table = pa.table({"id": ["a", "b"], "text": TEXTS[:2], "meta": [{"k": 1}, None]})
    out = predictor(table)
    assert out.column_names == ["id", "text", "meta", *ADDED_FIELDS, "error"]
    assert out.schema.field("topic_scores").type.num_fields == 18
    assert out.schema.field("flags").type == pa.list_(pa.string())
    assert out.column("meta").to_pylist() == [{"k": 1}, None]


def test_resolve_inputs(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"text": "un"}])
    write_jsonl(tmp_path / "b.jsonl", [{"text": "deux"}])
    (tmp_path / "notes.md").write_text("ignored")
    files, kind = resolve_inputs(str(tmp_path))
    assert kind == "jsonl" and [Path(f).name for f in files] == ["a.jsonl", "b.jsonl"]
    assert resolve_inputs(f"{tmp_path}/a.jsonl,{tmp_path}/b.*")[1] == "jsonl"
    assert resolve_inputs("s3://bucket/part-0.parquet") == (["s3://bucket/part-0.parquet"], "parquet")
    (tmp_path / "c.parquet").write_bytes(b"")
    with pytest.raises(InputError, match="mix formats"):
        resolve_inputs(str(tmp_path))
    with pytest.raises(FileNotFoundError):
        resolve_inputs(str(tmp_path / "missing.jsonl"))


@pytest.mark.slow
def test_ray_engine_on_jsonl_and_parquet(tiny_model_dir, moderator, tmp_path, capsys):
    """``modcls classify --engine ray`` on a local Ray instance, JSONL in and Parquet in.

    Two logical CPUs: the model actor holds one for the whole job, and Ray's Parquet reader lists files in
    a task that asks for a whole CPU (on a one-CPU instance the two would wait for each other forever).
    """
    ray = pytest.importorskip("ray")
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    rows = [{"id": f"r{i}", "text": t, "source": "test"} for i, t in enumerate(TEXTS * 2)]
    rows.append({"id": "bad", "text": "   "})
    src = tmp_path / "in"
    src.mkdir()
    write_jsonl(src / "part-0.jsonl", rows[:4])
    write_jsonl(src / "part-1.jsonl", rows[4:])
    pq.write_table(pa.Table.from_pylist(rows[:-1]), tmp_path / "rows.parquet")
    expected = {r["id"]: d.to_dict() for r, d in zip(rows, moderator.classify([r["text"] for r in rows[:-1]]))}

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        code = main(["classify", "--engine", "ray", "--input", str(src), "--output", str(tmp_path / "out_jsonl"),
                     "--model", str(tiny_model_dir)])
        assert code == 0, capsys.readouterr().err
        code = main(["classify", "--engine", "ray", "--input", str(tmp_path / "rows.parquet"),
                     "--output", str(tmp_path / "out_pq"), "--model", str(tiny_model_dir), "--skip-invalid"])
        assert code == 0, capsys.readouterr().err
    finally:
        ray.shutdown()

    written = [json.loads(line) for f in sorted((tmp_path / "out_jsonl").iterdir()) for line in f.open()]
    assert sorted(r["id"] for r in written) == sorted(r["id"] for r in rows)
    for row in written:
        if row["id"] == "bad":
            assert "empty" in row["error"] and row["route"] is None
            continue
        assert row["source"] == "test" and row["error"] is None
        for field in ADDED_FIELDS:
            got, want = row[field], expected[row["id"]][field]
            assert got == pytest.approx(want) if isinstance(want, dict) else got == want, field
    table = pq.read_table(tmp_path / "out_pq")
    assert sorted(table.column("id").to_pylist()) == sorted(expected)
    assert table.schema.field("sensitivity").type.num_fields == 7
    by_id = {r["id"]: r for r in table.to_pylist()}
    assert all(by_id[i]["route"] == expected[i]["route"] for i in expected)
