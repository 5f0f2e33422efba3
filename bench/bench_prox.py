"""How close do the fused proximal updates come to memory bandwidth, and how do they compare
with the NumPy code users would otherwise write?

For each update (sgd_step with L1 and L2, adam_step with L1, momentum_step
with L1 and L2, soft_threshold), dtype and thread count the script times our
kernel and the plain NumPy expression on identical inputs, in the same run,
and reports the speed-up, the effective bandwidth of our kernel (the bytes the
update must move at least, divided by its time) and that bandwidth as a
percentage of the streaming bandwidth measured at the same thread count
(an in-place NumPy triad, 24 B per float64 element). A second block of rows
repeats every update at a small size (N = 1e4 by default), where the data
sits in cache and call overhead dominates, to show we are no slower there.

NumPy itself runs on one thread whatever the thread count of the row: the
thread count applies to fastprox only (there is no BLAS in these updates).
Rows above one thread also time our update at one thread in the same
interleaved set (``ms_pre_1t``, ``scaling``): the thread-scaling table of the
full run compares those, not rows taken minutes apart.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_prox.py
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

SCRIPT = "bench_prox"
QUESTION = ("fused proximal updates (sgd/adam/momentum/soft-threshold) vs plain NumPy: "
            "speed-up and fraction of the measured streaming bandwidth")

LR, L1, L2 = 1e-2, 1e-3, 1e-4
MOMENTUM = 0.9
BETA1, BETA2, EPS, STEP = 0.9, 0.999, 1e-8, 10

# Bytes each update must move per element, in units of the itemsize
# (streams read + streams written).
STREAMS = {
    "sgd_step": 3,        # read w, g; write w
    "momentum_step": 5,   # read w, g, velocity; write w, velocity
    "adam_step": 7,       # read w, g, m, v; write w, m, v
    "soft_threshold": 2,  # read x; write out
}


# --------------------------------------------------------------------------- NumPy references
# Written the way a user would write them, allocating temporaries.

def np_sgd(w, g, lr, l1, l2):
    w -= lr * (g + l2 * w)
    w[:] = np.sign(w) * np.maximum(np.abs(w) - lr * l1, 0)


def np_momentum(w, g, vel, lr, momentum, l1, l2):
    vel *= momentum
    vel -= lr * (g + l2 * w)
    w += vel
    w[:] = np.sign(w) * np.maximum(np.abs(w) - lr * l1, 0)


def np_adam(w, g, m, v, step, lr, beta1, beta2, eps, l1):
    m *= beta1
    m += (1 - beta1) * g
    v *= beta2
    v += (1 - beta2) * g * g
    d = np.sqrt(v / (1 - beta2**step)) + eps
    w -= lr * (m / (1 - beta1**step)) / d
    w[:] = np.sign(w) * np.maximum(np.abs(w) - lr * l1 / d, 0)


def np_soft_threshold(x, t):
    return np.sign(x) * np.maximum(np.abs(x) - t, 0)


# --------------------------------------------------------------------------- cases

def make_case(name, n, dtype, rng):
    """(ours, numpy, check) callables for one update on fresh arrays of size n.

    ``ours`` and ``numpy`` each own a copy of the state, so the two never
    interfere; ``check()`` runs one step of each from identical state and
    returns the max abs difference relative to the largest value.
    """
    from fastprox import prox

    w0 = rng.standard_normal(n).astype(dtype)
    g = (0.1 * rng.standard_normal(n)).astype(dtype)
    m0 = (0.01 * rng.standard_normal(n)).astype(dtype)
    v0 = (1e-4 * rng.random(n)).astype(dtype)

    if name == "sgd_step":
        def build():
            w = w0.copy()
            return (lambda: prox.sgd_step(w, g, LR, l1=L1, l2=L2)), w

        def build_ref():
            w = w0.copy()
            return (lambda: np_sgd(w, g, LR, L1, L2)), w
    elif name == "momentum_step":
        def build():
            w, vel = w0.copy(), m0.copy()
            return (lambda: prox.momentum_step(w, g, vel, LR, MOMENTUM, L1, L2)), w

        def build_ref():
            w, vel = w0.copy(), m0.copy()
            return (lambda: np_momentum(w, g, vel, LR, MOMENTUM, L1, L2)), w
    elif name == "adam_step":
        def build():
            w, m, v = w0.copy(), m0.copy(), v0.copy()
            return (lambda: prox.adam_step(w, g, m, v, STEP, LR, BETA1, BETA2, EPS, L1, 0.0)), w

        def build_ref():
            w, m, v = w0.copy(), m0.copy(), v0.copy()
            return (lambda: np_adam(w, g, m, v, STEP, LR, BETA1, BETA2, EPS, L1)), w
    elif name == "soft_threshold":
        t = 0.5

        def build():
            out = np.empty_like(w0)
            return (lambda: prox.soft_threshold(w0, t, out=out)), out

        def build_ref():
            box = [None]

            def run():
                box[0] = np_soft_threshold(w0, t)
            return run, box
    else:
        raise ValueError(name)

    def check():
        f, a = build()
        r, b = build_ref()
        f()
        r()
        b = b[0] if isinstance(b, list) else b
        scale = max(float(np.max(np.abs(b))), 1.0)
        return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) / scale

    return build()[0], build_ref()[0], check


LABELS = {
    "sgd_step": "sgd_step l1+l2",
    "momentum_step": "momentum_step l1+l2",
    "adam_step": "adam_step l1",
    "soft_threshold": "soft_threshold",
}


COLUMNS = [  # (row key, header, format)
    ("op", "update", ""), ("dtype", "dtype", ""), ("size", "N", ""), ("threads", "thr", "d"),
    ("ms_ours", "ms ours", ".3f"), ("ms_ref", "ms numpy", ".3f"), ("speedup", "speed-up", ".1f"),
    ("bytes_per_element", "B/elt", "d"), ("gbps", "GB/s", ".1f"), ("pct_bw", "% bw", ".0f"),
]


def run_rows(args, timed):
    from fastprox import get_num_threads

    rng = np.random.default_rng(0)
    rows = []
    blocks = [(args.n, False)]
    if args.small_n:
        blocks.append((args.small_n, True))
    for n, small in blocks:
        for dtype in args.dtypes:
            itemsize = np.dtype(dtype).itemsize
            tol = 1e-4 if dtype == "float32" else 1e-10
            for name in args.kernels:
                ours, ref, check = make_case(name, n, dtype, rng)
                err = check()
                nbytes = STREAMS[name] * itemsize * n
                for threads in args.threads:
                    with _common.thread_limit(threads):
                        eff_threads = get_num_threads()
                        # interleaved samples; NumPy runs on one thread whatever the limit;
                        # above one thread also ours at one thread ("one", ms_pre_1t)
                        one = _common.AtThreads(ours, 1) if threads > 1 else None
                        t = timed({"ours": ours, "one": one, "ref": ref}, rotate=True)
                    t_ours, t_ref, t_one = t["ours"], t["ref"], t["one"]
                    gbps = nbytes / t_ours["median"] / 1e9
                    row = {
                        "op": LABELS[name], "kernel": name, "dtype": dtype, "size": f"{n:.0e}",
                        "n": n, "threads": threads, "threads_effective": eff_threads,
                        "small": small,
                        "bytes_per_element": STREAMS[name] * itemsize,
                        "ms_ours": t_ours["median"] * 1e3, "ms_ref": t_ref["median"] * 1e3,
                        "speedup": t_ref["median"] / t_ours["median"],
                        "gbps": gbps,
                        "pct_bw": None,  # filled in at the end (add_pct_bw)
                        "ref_gbps": nbytes / t_ref["median"] / 1e9,
                        "ms_pre_1t": t_one["median"] * 1e3 if t_one else None,
                        "scaling": t_one["median"] / t_ours["median"] if t_one else None,
                        "max_rel_diff": err, "agrees": err <= tol,
                        "timing_ours": t_ours, "timing_ref": t_ref, "timing_pre_1t": t_one,
                    }
                    rows.append(row)
                if err > tol:
                    _common.warn(f"{name} {dtype} differs from the NumPy reference by "
                                 f"{err:.2e} (relative)")
    return rows


def main(argv=None):
    p = _common.base_parser(__doc__)
    p.add_argument("--n", type=_common.parse_number, default=None,
                   help="elements per array (default 1e7, 1e5 with --quick)")
    p.add_argument("--small-n", type=_common.parse_number, default=None,
                   help="size of the small, in-cache rows; 0 to skip "
                        "(default 1e4, 1e3 with --quick)")
    p.add_argument("--kernels", nargs="+", default=list(STREAMS), choices=list(STREAMS))
    args = p.parse_args(argv)
    _common.finish_args(args)
    if args.n is None:
        args.n = 10**5 if args.quick else 10**7
    if args.small_n is None:
        args.small_n = 10**3 if args.quick else 10**4
    # in-cache (small-N) rows get no % bw: their data never leaves the caches
    return _common.run_bench(
        SCRIPT, QUESTION, args, run_rows, COLUMNS,
        "\nspeed-up = ms numpy / ms ours (NumPy runs on 1 thread in every row); GB/s = bytes the "
        "update must move / ms ours;\n% bw = GB/s / measured triad bandwidth at the row's thread "
        "count (blank for the in-cache small-N rows);\nrows above 1 thread also carry "
        "ms_pre_1t and scaling (JSON): our call at 1 thread timed in the same interleaved set.",
        script_path=os.path.abspath(__file__), pct_bw=True,
        params={"lr": LR, "l1": L1, "l2": L2, "momentum": MOMENTUM, "beta1": BETA1,
                "beta2": BETA2, "eps": EPS, "step": STEP})

if __name__ == "__main__":
    sys.exit(main())
