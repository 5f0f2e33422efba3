"""The thread-scaling table of RESULTS.md and the interleaved 1-thread sample behind it.

A 2-thread row that carries ``ms_pre_1t`` (our call at one thread, timed in
the same interleaved set) is compared with that, not with the 1-thread row of
the same case, which was timed minutes earlier; ``_common.AtThreads`` switches
the thread cap around each sample, outside the timed calls.
"""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "bench")

pytestmark = pytest.mark.skipif(not os.path.isfile(os.path.join(BENCH, "_summary.py")),
                                reason="bench/ not in this checkout")


@pytest.fixture
def bench_modules():
    sys.path.insert(0, BENCH)
    try:
        import _common
        import _summary
        yield _common, _summary
    finally:
        sys.path.remove(BENCH)


def _run_json(script, args, tmp_path):
    """The rows of ``bench/<script>.py --quick`` run in this process with ``args``."""
    import json

    sys.path.insert(0, BENCH)
    try:
        module = __import__(script)
    finally:
        sys.path.remove(BENCH)
    out = tmp_path / f"{script}.json"
    assert module.main(["--quick", "--json", str(out), "--budget", "0.001", "--min-repeats", "1",
                        *args]) == 0
    return json.loads(out.read_text())["rows"]


def _row(threads, ms, one=None, **kw):
    row = {"op": "sgd_step l1+l2", "dtype": "float64", "size": "1e+04", "threads": threads,
           "ms_ours": ms}
    row.update(kw)
    if one is not None:
        row["ms_pre_1t"] = one
    return row


def test_scaling_uses_the_interleaved_one_thread_time(bench_modules):
    _, _summary = bench_modules
    prox = [_row(1, 8.0), _row(2, 15.0, one=14.0)]
    spmv = [_row(1, 3.0, op="spmm", ms_pre=2.0), _row(2, 3.0, one=3.6, op="spmm", ms_pre=2.0),
            _row(1, 1.0, op="spmv"), _row(2, 2.0, op="spmv"),  # no interleaved sample
            _row(1, 5.0, op="sddmm"), _row(2, 5.0, one=4.0, op="sddmm", ms_pre=4.5,
                                              ms_pre_nt=2.5)]  # a scaling set of its own
    doc = {"scripts": {"bench_prox": {"status": "ok", "result": {"rows": prox}},
                       "bench_spmv": {"status": "ok", "result": {"rows": spmv}}}}
    got = {(s, o): (a, b, x) for s, o, d, z, a, b, x in _summary.thread_scaling(doc)}
    assert got[("bench_prox", "sgd_step l1+l2")] == (14.0, 15.0, 14.0 / 15.0)
    assert got[("bench_spmv", "spmm")] == (3.6, 2.0, 1.8)  # pre-validated call at 2 threads
    assert got[("bench_spmv", "spmv")] == (1.0, 2.0, 0.5)  # the separate rows, as before
    assert got[("bench_spmv", "sddmm")] == (4.0, 2.5, 1.6)


def test_at_threads_caps_only_inside_the_sample(bench_modules):
    import fastprox

    _common, _ = bench_modules
    seen = []
    previous = fastprox.set_num_threads(2)
    try:
        one = _common.AtThreads(lambda: seen.append(fastprox.get_num_threads()), 1)
        t = _common.time_calls({"two": lambda: seen.append(-fastprox.get_num_threads()),
                                "one": one, "none": None}, budget=0.0, min_repeats=3)
        assert fastprox.get_num_threads() == 2
        one()  # called directly it caps too
    finally:
        fastprox.set_num_threads(previous)
    assert t["none"] is None and t["one"]["repeats"] == t["two"]["repeats"] == 3
    assert set(seen) == {1, -2}


def test_bench_prox_rows_carry_the_interleaved_sample(tmp_path):
    rows = _run_json("bench_prox", ["--kernels", "sgd_step", "--dtypes", "float64",
                                    "--small-n", "0"], tmp_path)
    assert {r["threads"] for r in rows} == {1, 2}
    for r in rows:
        if r["threads"] == 1:
            assert r["ms_pre_1t"] is None and r["scaling"] is None
        else:
            assert r["ms_pre_1t"] > 0 and r["scaling"] == pytest.approx(
                r["ms_pre_1t"] / r["ms_ours"])


def test_bench_spmv_scaling_pair_is_timed_apart(tmp_path):
    """bench_spmv's 2-thread rows carry the 1- and 2-thread times of their own set."""
    rows = _run_json("bench_spmv", ["--ops", "spmm", "--layer", "64", "--batch", "8",
                                    "--sparsities", "0.9", "--dtypes", "float64", "--no-mkl"],
                     tmp_path)
    assert {r["threads"] for r in rows} == {1, 2}
    for r in rows:
        if r["threads"] == 1:
            assert r["ms_pre_1t"] is None and r["ms_pre_nt"] is None
        else:
            assert r["ms_pre_1t"] > 0 and r["ms_pre_nt"] > 0
            assert r["scaling"] == pytest.approx(r["ms_pre_1t"] / r["ms_pre_nt"])
