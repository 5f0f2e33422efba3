"""How fast are the CSR kernels against what users would call instead (SciPy, dense BLAS)?

* spmv / spmv_t on a tall 1e6 x 1e3 matrix at 1 % density (about 10
  nonzeros per row) against SciPy's ``A @ x`` / ``A.T @ x``; GB/s counts the
  matrix only, value + index per nonzero (12 B in float64 with int32
  indices, 8 B in float32), and % bw compares it with the streaming bandwidth
  measured in the same run at the row's thread count. spmv also runs with
  int64 indices at ``--density`` (``--index-dtypes``; size ends in "int64"): the
  pre-validated call on ``check_csr``'s int32 copy of the indices (its default),
  and on the int64 arrays kept (``index_dtype="keep"``; size ends in "int64 kept").
* The goal rows of issue 16 (item 3) are printed once more at the end, under
  "Goals": spmv 1e6 x 1e3 1 % against SciPy (>= 1.5x at 1 thread, >= 2.5x at
  2, float64 / float32 x int32 / int64) and batch-1 spmv on the pruned layers.
* spmm: a pruned 1024 x 1024 layer (90 % and 70 % sparsity) times a dense
  (1024, 256) batch against the dense BLAS product ``W @ X`` of the unpruned
  weights at the same thread count (and SciPy's ``A @ X`` for reference).
* sddmm: the values of ``U @ V.T`` (U, V of shape (1024, 256)) at the
  nonzeros of a 90 % sparse pattern against the dense BLAS ``U @ V.T``.
* layers: deployment-sized pruned layers, 4096 x 4096 and 4096 x 1024 at 80, 90 and
  95 % sparsity, times a batch of 1 (``spmv``), 16 and 256 (``spmm``), against the
  dense BLAS product of the unpruned weights ``W @ X`` and SciPy's ``A @ X`` (rows
  ``layer spmv`` / ``layer spmm``, ``case: "layers"``; GB/s for batch 1).
* prune_to_csr of a 2048 x 2048 matrix (by sparsity and by threshold) against
  the NumPy + SciPy code users would write.
* MKL, optional (fastprox never needs it): where ``sparse_dot_mkl`` imports, its
  ``dot_product_mkl`` runs on the spmv rows with int32 indices and on the layers
  (``ms mkl`` / ``x mkl``; version printed and in the JSON; ``--no-mkl`` skips it).
  ``MKL_RT`` defaults to ``<prefix>/lib/libmkl_rt.so*``; ``MKL_THREADING_LAYER=GNU``
  (unless set) puts MKL on libgomp, fastprox's runtime, so no second pool spins. MKL
  and our best call are timed in a set of their own after the row's set, so a stalled
  MKL team (15 ms on 2 threads with a busy core) cannot slow the other columns.

Every fastprox kernel is timed twice: the validated call (``check_input=True``,
the default, which reads the index arrays once) and the call on a matrix
validated beforehand (``check_csr`` once, then ``check_input=False``), the
fast path for repeated products. SciPy's sparse products run on one thread
whatever the row's thread count; BLAS runs at the row's thread count.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_spmv.py
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

SCRIPT = "bench_spmv"
QUESTION = ("CSR kernels (spmv, spmv_t, spmm, sddmm, prune_to_csr) vs SciPy and dense BLAS, "
            "validated and pre-validated, at 1 and 2 threads")
OPS = ("spmv", "spmv_t", "spmm", "sddmm", "layers", "prune")

# Extra arguments bench/run_all.py passes in each of its modes: density and
# sparsity sweeps for the speed-up-vs-density plot; the smallest sizes for --smoke.
RUN_ALL_ARGS = {
    "full": ["--densities", "0.001", "0.003", "0.01", "0.03",
             "--sparsities", "0.98", "0.95", "0.9", "0.8", "0.7", "0.5"],
    "quick": ["--densities", "0.003", "0.01", "0.03", "--sparsities", "0.95", "0.9", "0.7", "0.5"],
    "smoke": ["--spmv-shape", "2000", "200", "--densities", "0.01", "0.05", "--layer", "32",
              "--batch", "8", "--inner", "8",
              "--layer-shapes", "64x64", "64x32", "--layer-batches", "1", "4",
              "--layer-sparsities", "0.9", "--prune-shape", "32", "32", "--sparsities", "0.9",
              "0.5", "--budget", "0.002", "--min-repeats", "1", "--bw-n", "100000"],
}


def load_mkl():
    """``(sparse_dot_mkl, MKL version)``, or ``(None, None)`` where it does not import."""
    import glob

    for path in sorted(glob.glob(os.path.join(sys.prefix, "lib", "libmkl_rt.so*")))[:1]:
        os.environ.setdefault("MKL_RT", path)
    os.environ.setdefault("MKL_THREADING_LAYER", "GNU")
    try:
        import sparse_dot_mkl
        return sparse_dot_mkl, sparse_dot_mkl.mkl_get_version_string()
    except (ImportError, OSError):
        return None, None


def random_csr(n_rows, n_cols, density, rng, dtype=np.float64, index_dtype=np.int32):
    """Uniformly random CSR matrix with canonical structure (sorted, no duplicates).

    Positions are drawn with replacement and de-duplicated, so the density is
    a hair under ``density``; much faster than ``scipy.sparse.random`` at 1e7
    nonzeros.
    """
    import scipy.sparse as sp

    k = int(round(density * n_rows * n_cols))
    flat = np.unique(rng.integers(0, n_rows * n_cols, size=k, dtype=np.int64))
    rows = flat // n_cols
    indices = (flat % n_cols).astype(index_dtype)
    indptr = np.zeros(n_rows + 1, dtype=index_dtype)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    data = rng.standard_normal(flat.size).astype(dtype)
    return sp.csr_array((data, indices, indptr), shape=(n_rows, n_cols))


def _rel_err(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    scale = max(float(np.max(np.abs(b))) if b.size else 0.0, 1.0)
    return float(np.max(np.abs(a - b))) / scale if a.size else 0.0


def _tol(dtype):
    return 1e-4 if np.dtype(dtype) == np.float32 else 1e-10


def _shape(text):
    """'4096x1024' -> (4096, 1024)."""
    rows, _, cols = text.lower().partition("x")
    return _common.parse_number(rows), _common.parse_number(cols)


def _size(shape):
    return "x".join(f"{s:.0e}" if s >= 10**5 else str(s) for s in shape)


def run_rows(args, timed, mkl=None):
    """The rows of the operations in ``--ops``, in the order of ``OPS`` (``mkl``: the
    ``sparse_dot_mkl`` module for the MKL column, or None)."""
    r = Runner(args, timed, mkl)
    cases = {"spmv": lambda: r.spmv(transpose=False), "spmv_t": lambda: r.spmv(transpose=True),
             "spmm": r.spmm, "sddmm": r.sddmm, "layers": r.layers, "prune": r.prune}
    for op in OPS:
        if op in args.ops:
            cases[op]()
    return r.rows


class Runner:
    def __init__(self, args, timed, mkl=None):
        self.args, self.timed, self.rows, self.mkl = args, timed, [], mkl

    def mkl_product(self, A, X):
        """MKL's ``A @ X`` (None without MKL, or for int64 indices: copied every call)."""
        if self.mkl is None or A.indices.dtype != np.int32:
            return None
        return lambda: self.mkl.dot_product_mkl(A, X)

    def add(self, op, dtype, size, threads, ours, ref, ref_name, *, pre=None, scipy=None,
            mkl=None, nbytes=None, flops=None, err=None, tol=None, extra=None):
        """Time ``ours`` (and ``pre``, ``scipy``, ``mkl``) inside the thread limit, ``ref`` too;
        above one thread also our best call at one thread and at ``threads``, interleaved in
        a set of their own (``ms_pre_1t``, ``ms_pre_nt``)."""
        from fastprox import get_num_threads

        fastest = pre or ours
        with _common.thread_limit(threads):
            eff = get_num_threads()
            # interleaved samples; the BLAS references obey the same thread limit
            t = self.timed({"ours": ours, "pre": pre, "ref": ref, "scipy": scipy})
            t["one"] = t["nt"] = None
            if threads > 1:  # thread scaling without the BLAS reference, whose workers
                _common.settle_threads()  # spin after each call and hold the second core
                pair = self.timed({"nt": fastest, "one": _common.AtThreads(fastest, 1)},
                                  rotate=True)
                t["nt"], t["one"] = pair["nt"], pair["one"]
            t["mkl"] = t["mkl_pre"] = None
            if mkl is not None:  # a set of its own with our best call: MKL's team cannot
                self.mkl.mkl_set_num_threads(threads)  # stall the columns above
                pair = self.timed({"pre": pre or ours, "mkl": mkl})
                t["mkl"], t["mkl_pre"] = pair["mkl"], pair["pre"]
        t_ours, t_pre, t_ref, t_sp, t_mkl = t["ours"], t["pre"], t["ref"], t["scipy"], t["mkl"]
        best = t_pre if t_pre is not None else t_ours
        row = {
            "op": op, "dtype": dtype, "size": size, "threads": threads,
            "threads_effective": eff, "ref": ref_name,
            "ms_ours": t_ours["median"] * 1e3,
            "ms_pre": t_pre["median"] * 1e3 if t_pre else None,
            "ms_ref": t_ref["median"] * 1e3,
            "ms_scipy": t_sp["median"] * 1e3 if t_sp else None,
            "speedup": t_ref["median"] / t_ours["median"],
            "speedup_pre": t_ref["median"] / t_pre["median"] if t_pre else None,
            "speedup_scipy": t_sp["median"] / best["median"] if t_sp else None,
            "ms_mkl": t_mkl["median"] * 1e3 if t_mkl else None,
            "ms_pre_vs_mkl": t["mkl_pre"]["median"] * 1e3 if t_mkl else None,
            "speedup_mkl": t_mkl["median"] / t["mkl_pre"]["median"] if t_mkl else None,
            "ms_pre_1t": t["one"]["median"] * 1e3 if t["one"] else None,
            "ms_pre_nt": t["nt"]["median"] * 1e3 if t["nt"] else None,
            "scaling": t["one"]["median"] / t["nt"]["median"] if t["one"] else None,
            "gbps": nbytes / best["median"] / 1e9 if nbytes else None,
            "pct_bw": None,  # filled in at the end (add_pct_bw)
            "gflops": flops / best["median"] / 1e9 if flops else None,
            "max_rel_diff": err,
            "agrees": err is None or err <= tol,
            "timing_ours": t_ours, "timing_pre": t_pre, "timing_ref": t_ref, "timing_scipy": t_sp,
            "timing_mkl": t_mkl, "timing_pre_1t": t["one"], "timing_pre_nt": t["nt"],
            "timing_pre_vs_mkl": t["mkl_pre"],
        }
        if extra:
            row.update(extra)
        self.rows.append(row)
        if not row["agrees"]:
            _common.warn(f"{op} {dtype} {size} differs from the reference by {err:.2e} "
                         "(relative)")

    # ----------------------------------------------------------------- cases

    def spmv(self, transpose):
        for density in self.args.densities:
            self._spmv(transpose, density)

    def _spmv(self, transpose, density):
        a = self.args
        n_rows, n_cols = a.spmv_shape
        rng = np.random.default_rng(1)
        A64 = random_csr(n_rows, n_cols, density, rng)
        index_dtypes = ["int32"]
        if not transpose and density == a.density:
            index_dtypes = a.index_dtypes
        for dtype, index_dtype in [(d, i) for d in a.dtypes for i in index_dtypes]:
            # int64: check_csr's int32 copy (the default) and the int64 arrays kept
            for keep in ([False, True] if index_dtype == "int64" else [False]):
                self._spmv_case(transpose, density, A64, dtype, index_dtype, rng, keep)

    def _spmv_case(self, transpose, density, A64, dtype, index_dtype, rng, keep=False):
        import scipy.sparse as sp
        from fastprox import sparse
        from fastprox.sparse import check_csr

        a = self.args
        n_rows, n_cols = a.spmv_shape
        A = A64.astype(dtype) if dtype != "float64" else A64
        if index_dtype != "int32":
            A = sp.csr_array((A.data, A.indices.astype(index_dtype),
                              A.indptr.astype(index_dtype)), shape=A.shape)
        Av = check_csr(A, index_dtype="keep" if keep else "smallest")
        x = rng.standard_normal(n_rows if transpose else n_cols).astype(dtype)
        # bytes the pre-validated call reads per nonzero (its index dtype, not A's)
        nbytes = A.nnz * (A.data.itemsize + Av.indices.itemsize)
        op, ref_name = ("spmv_t", "scipy A.T@x") if transpose else ("spmv", "scipy A@x")
        kernel = sparse.spmv_t if transpose else sparse.spmv
        M = A.T if transpose else A

        def ours():
            return kernel(A, x)

        def pre():
            return kernel(Av, x, check_input=False)

        def ref():
            return M @ x

        err = max(_rel_err(ours(), ref()), _rel_err(pre(), ref()))
        mkl = None if transpose else self.mkl_product(A, x)
        for threads in a.threads:
            suffix = ("" if index_dtype == "int32" else f" {index_dtype}") + (" kept" * keep)
            self.add(op, dtype, f"{_size(A.shape)} {100 * density:g}%{suffix}", threads,
                     ours, ref, ref_name, pre=pre, mkl=mkl, nbytes=nbytes, flops=2 * A.nnz,
                     err=err,
                     tol=_tol(dtype),
                     extra={"nnz": A.nnz, "shape": A.shape, "density": density,
                            "index_dtype": index_dtype, "indices_kept": keep,
                            "kernel_index_dtype": str(Av.indices.dtype),
                            "bytes_per_nnz": A.data.itemsize + Av.indices.itemsize})

    def spmm(self):
        from fastprox import sparse
        from fastprox.sparse import check_csr

        a = self.args
        n = a.layer
        rng = np.random.default_rng(2)
        W64 = rng.standard_normal((n, n))
        X64 = rng.standard_normal((n, a.batch))
        for sparsity in a.sparsities:
            for dtype in a.dtypes:
                W = W64.astype(dtype)
                X = np.ascontiguousarray(X64.astype(dtype))
                A = sparse.prune_to_csr(W, sparsity=sparsity)
                Av = check_csr(A)
                err = max(_rel_err(sparse.spmm(A, X), A @ X),
                          _rel_err(sparse.spmm(Av, X, check_input=False), A @ X))
                for threads in a.threads:
                    self.add("spmm", dtype, f"{n}x{n} s={sparsity:g} b={a.batch}", threads,
                             lambda: sparse.spmm(A, X), lambda: W @ X, "dense W@X",
                             pre=lambda: sparse.spmm(Av, X, check_input=False),
                             scipy=lambda: A @ X, flops=2 * A.nnz * a.batch, err=err,
                             tol=_tol(dtype), extra={"nnz": A.nnz, "sparsity": sparsity})

    def sddmm(self):
        from fastprox import sparse
        from fastprox.sparse import check_csr

        a = self.args
        n, d = a.layer, a.inner
        rng = np.random.default_rng(3)
        P = sparse.prune_to_csr(rng.standard_normal((n, n)), sparsity=a.sddmm_sparsity)
        Pv = check_csr(P)
        rows = np.repeat(np.arange(n), np.diff(P.indptr))
        U64 = rng.standard_normal((n, d))
        V64 = rng.standard_normal((n, d))
        for dtype in a.dtypes:
            U, V = U64.astype(dtype), V64.astype(dtype)
            expect = (U @ V.T)[rows, P.indices]
            err = max(_rel_err(sparse.sddmm(P, U, V), expect),
                      _rel_err(sparse.sddmm(Pv, U, V, check_input=False), expect))
            for threads in a.threads:
                self.add("sddmm", dtype, f"{n}x{n} s={a.sddmm_sparsity:g} d={d}", threads,
                         lambda: sparse.sddmm(P, U, V), lambda: U @ V.T, "dense U@V.T",
                         pre=lambda: sparse.sddmm(Pv, U, V, check_input=False),
                         flops=2 * P.nnz * d, err=err, tol=_tol(dtype),
                         extra={"nnz": P.nnz, "sparsity": a.sddmm_sparsity})

    def layers(self):
        """Pruned layers of deployment size: batch 1 by spmv, larger batches by spmm."""
        from fastprox import sparse
        from fastprox.sparse import check_csr

        a = self.args
        for n_out, n_in in a.layer_shapes:
            rng = np.random.default_rng(5)
            W64 = rng.standard_normal((n_out, n_in))
            X64 = rng.standard_normal((n_in, max(a.layer_batches)))
            for sparsity in a.layer_sparsities:
                for dtype in a.dtypes:
                    W = W64.astype(dtype)
                    A = sparse.prune_to_csr(W, sparsity=sparsity)
                    Av = check_csr(A)
                    for batch in a.layer_batches:
                        self._layer(sparse, W, A, Av, X64, batch, sparsity, dtype)

    def _layer(self, sparse, W, A, Av, X64, batch, sparsity, dtype):
        if batch == 1:
            X = np.ascontiguousarray(X64[:, 0].astype(dtype))
            op, kernel, nbytes = "layer spmv", sparse.spmv, A.nnz * (
                A.data.itemsize + A.indices.itemsize)
        else:
            X = np.ascontiguousarray(X64[:, :batch].astype(dtype))
            op, kernel, nbytes = "layer spmm", sparse.spmm, None
        err = max(_rel_err(kernel(A, X), A @ X),
                  _rel_err(kernel(Av, X, check_input=False), A @ X))
        for threads in self.args.threads:
            self.add(op, dtype, f"{W.shape[0]}x{W.shape[1]} s={sparsity:g} b={batch}",
                     threads, lambda: kernel(A, X), lambda: W @ X, "dense W@X",
                     pre=lambda: kernel(Av, X, check_input=False), scipy=lambda: A @ X,
                     mkl=self.mkl_product(A, X), nbytes=nbytes, flops=2 * A.nnz * batch,
                     err=err, tol=_tol(dtype),
                     extra={"case": "layers", "nnz": A.nnz, "shape": W.shape,
                            "sparsity": sparsity, "batch": batch})

    def prune(self):
        import scipy.sparse as sp
        from fastprox import sparse

        a = self.args
        shape = tuple(a.prune_shape)
        s = a.prune_sparsity
        rng = np.random.default_rng(4)
        W64 = rng.standard_normal(shape)
        for dtype in a.dtypes:
            W = W64.astype(dtype)
            k = int(np.floor(s * W.size + 0.5))
            thr = float(np.partition(np.abs(W).ravel(), k - 1)[k - 1])

            def ref_sparsity():
                absw = np.abs(W)
                t = np.partition(absw.ravel(), k - 1)[k - 1]
                return sp.csr_array(np.where(absw > t, W, 0))

            def ref_threshold():
                return sp.csr_array(np.where(np.abs(W) >= thr, W, 0))

            cases = (
                ("prune_to_csr sparsity", lambda: sparse.prune_to_csr(W, sparsity=s),
                 ref_sparsity, "np.partition+csr_array"),
                ("prune_to_csr threshold", lambda: sparse.prune_to_csr(W, threshold=thr),
                 ref_threshold, "np.where+csr_array"),
            )
            for op, ours, ref, ref_name in cases:
                mine, theirs = ours(), ref()
                same = (mine.nnz == theirs.nnz and np.array_equal(mine.indptr, theirs.indptr)
                        and np.array_equal(mine.indices, theirs.indices))
                err = _rel_err(mine.data, theirs.data) if same else float("inf")
                for threads in a.threads:
                    self.add(op, dtype, f"{shape[0]}x{shape[1]} s={s:g}", threads, ours, ref,
                             ref_name, nbytes=W.nbytes, err=err, tol=0.0,
                             extra={"nnz": mine.nnz})


DEFAULTS = {  # argument: (--quick value, full value)
    "spmv_shape": ([20_000, 1_000], [1_000_000, 1_000]), "layer": (128, 1024),
    "batch": (32, 256), "inner": (32, 256), "prune_shape": ([256, 256], [2048, 2048]),
    "layer_shapes": ([(512, 512), (512, 128)], [(4096, 4096), (4096, 1024)]),
    "layer_sparsities": ([0.9, 0.95], [0.8, 0.9, 0.95]),
    "layer_batches": ([1, 16], [1, 16, 256]),
}
SPMV_GOAL = {1: 1.5, 2: 2.5}  # x scipy on the tall 1 % case (issue 16, item 3)


def goal_lines(rows, density=0.01):
    """The goal rows again, one line each: spmv on the tall case, batch-1 layers."""
    out = []
    tall = [r for r in rows if r["op"] == "spmv" and r.get("density") == density]
    if tall:
        out.append(f"Goals -- spmv {tall[0]['size'].split(' ')[0]} {100 * density:g}% x scipy "
                   "(pre-validated call; goal: >= 1.5 at 1 thread, >= 2.5 at 2):")
    for r in tall:  # the reference of these rows is scipy's A @ x
        goal = SPMV_GOAL.get(r["threads"])
        x = r["speedup_pre"]
        mark = "" if goal is None else (" (goal met)" if x >= goal else f" (goal {goal})")
        if r.get("indices_kept"):  # the int64 kernel itself, for reference
            mark = " (int64 kept)"
        index = r.get("index_dtype", "int32") + ("k" if r.get("indices_kept") else "")
        out.append(f"  {r['dtype']:8s} {index:6s} {r['threads']} thr: "
                   f"{r['ms_pre']:8.3f} ms vs scipy {r['ms_ref']:8.3f} ms = {x:.2f}x{mark}, "
                   f"{r['pct_bw'] or 0:.0f} % bw{_vs_mkl(r)}")
    layer = [r for r in rows if r["op"] == "layer spmv"]
    if layer:
        out.append("Goals -- batch-1 spmv on pruned layers (pre-validated call, ms; x scipy, "
                   "x dense BLAS, x MKL: goal >= 1 at 90-95 %):")
    for r in layer:
        out.append(f"  {r['dtype']:8s} {r['size']:28s} {r['threads']} thr: {r['ms_pre']:7.3f} ms"
                   f"  {r['speedup_scipy']:.2f}x scipy  {r['speedup_pre']:.2f}x dense"
                   f"{_vs_mkl(r)}")
    return out


def _vs_mkl(row):
    if row.get("ms_mkl") is None:
        return ""
    return (f"  {row['speedup_mkl']:.2f}x MKL ({row['ms_pre_vs_mkl']:.3f} vs "
            f"{row['ms_mkl']:.3f} ms, own set)")


COLUMNS = [  # (row key, header, format)
    ("op", "op", ""), ("dtype", "dtype", ""), ("size", "size", ""), ("threads", "thr", "d"),
    ("ms_ours", "ms ours", ".3f"), ("ms_pre", "ms pre", ".3f"), ("ref", "reference", ""),
    ("ms_ref", "ms ref", ".3f"), ("speedup", "x ref", ".2f"), ("speedup_pre", "x ref pre", ".2f"),
    ("ms_scipy", "ms scipy", ".3f"), ("speedup_scipy", "x scipy", ".2f"),
    ("ms_mkl", "ms mkl", ".3f"), ("speedup_mkl", "x mkl", ".2f"), ("gbps", "GB/s", ".1f"),
    ("pct_bw", "% bw", ".0f"), ("gflops", "GFLOP/s", ".1f"),
]


def main(argv=None):
    p = _common.base_parser(__doc__)
    p.add_argument("--ops", nargs="+", default=list(OPS), choices=OPS)
    p.add_argument("--spmv-shape", nargs=2, type=_common.parse_number, default=None,
                   metavar=("ROWS", "COLS"), help="spmv matrix (default 1e6 1e3)")
    p.add_argument("--density", type=float, default=0.01, help="spmv density")
    p.add_argument("--densities", type=float, nargs="+", default=None,
                   help="spmv / spmv_t density sweep (one table row group per density; "
                        "overrides --density)")
    p.add_argument("--layer", type=int, default=None,
                   help="spmm / sddmm layer size n (n x n weights; default 1024)")
    p.add_argument("--batch", type=int, default=None, help="spmm batch (default 256)")
    p.add_argument("--sparsities", type=float, nargs="+", default=[0.9, 0.7],
                   help="spmm sparsities")
    p.add_argument("--sddmm-sparsity", type=float, default=0.9)
    p.add_argument("--inner", type=int, default=None, help="sddmm inner dimension d (default 256)")
    p.add_argument("--layer-shapes", nargs="+", type=_shape, default=None,
                   metavar="OUTxIN", help="layers case: weight shapes (default 4096x4096 "
                                          "4096x1024)")
    p.add_argument("--layer-sparsities", type=float, nargs="+", default=None,
                   help="layers case: sparsities (default 0.8 0.9 0.95)")
    p.add_argument("--layer-batches", type=int, nargs="+", default=None,
                   help="layers case: batch sizes, 1 = spmv (default 1 16 256)")
    p.add_argument("--prune-shape", nargs=2, type=_common.parse_number, default=None,
                   metavar=("ROWS", "COLS"), help="prune_to_csr matrix (default 2048 2048)")
    p.add_argument("--prune-sparsity", type=float, default=0.9)
    p.add_argument("--index-dtypes", nargs="+", default=["int32", "int64"],
                   choices=["int32", "int64"],
                   help="spmv index dtypes at --density (other densities: int32)")
    p.add_argument("--no-mkl", action="store_true", help="skip the optional MKL column")
    args = p.parse_args(argv)
    _common.finish_args(args)
    for name, (quick, full) in DEFAULTS.items():  # sizes left unset: --quick or full
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.densities is None:
        args.densities = [args.density]
    mkl, mkl_version = (None, None) if args.no_mkl else load_mkl()
    seen = []

    def rows_and_keep(args, timed):
        seen.extend(run_rows(args, timed, mkl))
        return seen

    rc = _common.run_bench(
        SCRIPT, QUESTION, args, rows_and_keep, COLUMNS,
        "\nms ours: validated call; ms pre: matrix validated once beforehand (check_input=False);"
        "\nx ref = ms ref / ms ours (> 1: we are faster); ms scipy: scipy.sparse A @ X (1 thread);"
        "\nx scipy = ms scipy / ms pre; ms mkl: sparse_dot_mkl's dot_product_mkl (MKL at the "
        "row's threads), x mkl: ms mkl / ms pre, both from a set of their own;"
        "\nrows above 1 thread also carry ms_pre_1t, ms_pre_nt and scaling (JSON): our best "
        "call at 1 thread and at the row's threads, interleaved in a set of their own (no BLAS);"
        "\nGB/s (pre-validated call): matrix bytes (value + index per nonzero) for spmv/spmv_t/"
        "layer spmv, "
        "the dense input for prune_to_csr;\n% bw: of the triad bandwidth measured at the row's "
        "thread count; GFLOP/s: 2 flops per nonzero (x batch or d) — useful work only.",
        script_path=os.path.abspath(__file__), pct_bw=True, mkl_version=mkl_version)
    print(f"MKL: {mkl_version or 'not loaded (sparse_dot_mkl missing or --no-mkl)'}")
    lines = goal_lines(seen, args.density)
    if lines:
        print()
        print("\n".join(lines))
    return rc

if __name__ == "__main__":
    sys.exit(main())
