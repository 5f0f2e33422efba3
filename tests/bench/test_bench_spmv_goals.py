"""bench_spmv reports the issue-16 goal rows: spmv on the tall case with int32 and
int64 indices against SciPy, and batch-1 spmv on pruned layers, again under "Goals"."""
import os
import sys

from test_bench_smoke import _run

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "bench"))


def test_bench_spmv_goal_rows(tmp_path):
    doc, stdout = _run("bench_spmv", "--ops", "spmv", "layers", "--spmv-shape", "3000", "200",
                       "--layer-shapes", "64x64", "--layer-sparsities", "0.9",
                       "--layer-batches", "1", tmp_path=tmp_path)
    spmv = [r for r in doc["rows"] if r["op"] == "spmv"]
    # dtypes x index dtypes x threads, every one agreeing with scipy
    assert {(r["dtype"], r["index_dtype"]) for r in spmv} == {
        (d, i) for d in ("float64", "float32") for i in ("int32", "int64")}
    assert all(r["agrees"] for r in spmv)
    # int64 rows: check_csr's int32 copy (the default) and the int64 arrays kept
    assert all(r["kernel_index_dtype"] == ("int64" if r["indices_kept"] else "int32")
               for r in spmv)
    assert all(r["bytes_per_nnz"] == (8 if r["dtype"] == "float64" else 4)
               + (8 if r["indices_kept"] else 4) for r in spmv)
    assert {r["indices_kept"] for r in spmv if r["index_dtype"] == "int64"} == {True, False}
    assert {r["size"].split("% ")[-1] for r in spmv} == {"3000x200 1%", "int64", "int64 kept"}
    goals = stdout[stdout.index("Goals -- spmv"):]
    assert "goal: >= 1.5 at 1 thread, >= 2.5 at 2" in goals
    layer = [r for r in doc["rows"] if r["op"] == "layer spmv"]
    assert len(layer) == 2 * 2  # dtypes x threads
    assert goals.count(" thr: ") == len(spmv) + len(layer)
    assert "Goals -- batch-1 spmv on pruned layers" in goals


def test_goal_lines_mark_met_and_missed():
    import bench_spmv

    row = {"op": "spmv", "density": 0.01, "size": "1e+06x1000 1%", "dtype": "float64",
           "index_dtype": "int64", "ms_pre": 5.0, "ms_ref": 10.0, "pct_bw": 50.0}
    lines = bench_spmv.goal_lines([dict(row, threads=1, speedup_pre=2.0),
                                   dict(row, threads=2, speedup_pre=2.0)])
    assert lines[1].endswith("2.00x (goal met), 50 % bw")
    assert lines[2].endswith("2.00x (goal 2.5), 50 % bw")
    kept = bench_spmv.goal_lines([dict(row, threads=1, speedup_pre=1.0, indices_kept=True)])
    assert "int64k" in kept[1] and kept[1].endswith("1.00x (int64 kept), 50 % bw")
