"""Shared helpers for the fastprox benchmark scripts.

Options, timing, the streaming bandwidth measured in the same run, thread
control for fastprox and BLAS together, table printing, JSON output, the
``--simd`` comparison of kernel builds and :func:`run_bench`, the body of every
script's ``main``. The machine description lives in ``_machine`` (re-exported
here). Nothing here imports fastprox at module import time: a script may
still set ``FASTPROX_SIMD`` (its ``--simd`` option) after importing this
module and before the first ``import fastprox``.
"""
import argparse
import contextlib
import datetime
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from _machine import _loadavg, describe, describe_bandwidth, machine_info  # noqa: F401

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
RESULTS_DIR = os.path.join(BENCH_DIR, "results")
SIMD_LEVELS = ("baseline", "v3", "v4")


# --------------------------------------------------------------------------- options

def base_parser(doc):
    """argparse parser with the options every script shares, described by ``doc``'s first
    paragraph (pass the script's ``__doc__``)."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                   help="thread counts for fastprox and BLAS (the same in each row)")
    p.add_argument("--dtypes", nargs="+", default=["float32", "float64"],
                   choices=["float32", "float64"])
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes and a short time budget (a smoke run of a few seconds)")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds of timed calls per table row (default 1, 0.02 with --quick)")
    p.add_argument("--min-repeats", type=int, default=None,
                   help="samples per measurement at least (default 5, 3 with --quick)")
    p.add_argument("--bw-n", type=int, default=None,
                   help="float64 elements of the bandwidth triad (default 2e7, 1e6 with --quick)")
    p.add_argument("--json", metavar="PATH", default=None,
                   help="where to write the JSON results (default "
                        "bench/results/<script>-<date>-<host>.json)")
    p.add_argument("--no-json", action="store_true", help="don't write JSON")
    p.add_argument("--simd", default=None, metavar="LEVEL[,LEVEL...]",
                   help="kernel variant(s) via FASTPROX_SIMD: one level runs with it; several "
                        "(or 'all') run this script once per level in subprocesses and print a "
                        "comparison of our timings")
    return p


def finish_args(args, *, quick_budget=0.02, full_budget=1.0):
    """Fill in the defaults that depend on --quick."""
    if args.budget is None:
        args.budget = quick_budget if args.quick else full_budget
    if args.min_repeats is None:
        args.min_repeats = 3 if args.quick else 5
    if args.bw_n is None:
        args.bw_n = 10**6 if args.quick else 2 * 10**7
    return args


def parse_number(text):
    """'1e6' or '1000000' -> 1000000."""
    return int(float(text))


# --------------------------------------------------------------------------- timing

def time_call(fn, *, budget=0.5, min_repeats=7, max_repeats=1000, warmup=1, min_sample=2e-4):
    """Median wall time of ``fn()`` in seconds, after warm-up.

    Calls that take less than ``min_sample`` seconds are batched (``number``
    calls per sample) so that timer resolution and loop overhead stay small.
    Samples are taken until at least ``min_repeats`` of them exist and
    ``budget`` seconds have passed (or ``max_repeats`` samples).

    Returns
    -------
    dict with ``median``, ``min``, ``max`` (seconds per call), ``repeats``
    (samples) and ``number`` (calls per sample).
    """
    t0 = time.perf_counter()
    for _ in range(max(1, warmup)):
        fn()
    first = (time.perf_counter() - t0) / max(1, warmup)
    number = 1 if first >= min_sample else int(math.ceil(min_sample / max(first, 1e-9)))
    samples = []
    start = time.perf_counter()
    while len(samples) < max_repeats:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        t1 = time.perf_counter()
        samples.append((t1 - t0) / number)
        if len(samples) >= min_repeats and t1 - start >= budget:
            break
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "repeats": len(samples), "number": number}


def time_calls(fns, *, budget=0.5, min_repeats=7, max_repeats=1000, warmup=1, min_sample=2e-4,
               rotate=False):
    """Median wall times of several callables, sampled in interleaved rounds.

    ``fns`` maps names to callables (None values are skipped). Each round takes
    one sample of every callable in turn, so a load that comes and goes on a
    shared machine hits all of them alike and their ratios stay meaningful.
    Batching, ``min_repeats`` and ``budget`` (for all of them together) are as
    in :func:`time_call`. ``rotate`` starts each round one callable later, so
    none always runs right after the same one (a call after one of its kind
    finds its data in cache: 3-4 % on a 1e4-element update).

    Returns
    -------
    dict name -> timing dict (see :func:`time_call`), None for skipped names.
    """
    live = {k: f for k, f in fns.items() if f is not None}
    number = {}
    for k, f in live.items():
        t0 = time.perf_counter()
        for _ in range(max(1, warmup)):
            f()
        first = (time.perf_counter() - t0) / max(1, warmup)
        number[k] = 1 if first >= min_sample else int(math.ceil(min_sample / max(first, 1e-9)))
    samples = {k: [] for k in live}
    start = time.perf_counter()
    names = list(live)
    for i in range(max_repeats):
        shift = i % len(names) if rotate and names else 0
        for k in names[shift:] + names[:shift]:
            samples[k].append(_sample(live[k], number[k]))
        if i + 1 >= min_repeats and time.perf_counter() - start >= budget:
            break
    out = {k: None for k in fns}
    for k, s in samples.items():
        out[k] = {"median": statistics.median(s), "min": min(s), "max": max(s),
                  "repeats": len(s), "number": number[k]}
    return out


def _sample(f, n):
    """Seconds per call of ``n`` calls of ``f``; an :class:`AtThreads` switches the thread
    cap outside the timed calls."""
    if isinstance(f, AtThreads):
        with f.cap():
            return _sample(f.fn, n)
    t0 = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t0) / n


class AtThreads:
    """``fn`` called with fastprox capped at ``n_threads``.

    Called directly it switches the cap around the call; :func:`time_calls`
    switches it around each sample instead, so the switch (~0.3 us, several
    per cent of a 1e4-element update) is not in the time. Used for the
    1-thread sample of a row above one thread (``ms_pre_1t``: the thread-scaling
    table compares samples taken together, not rows minutes apart).
    """

    def __init__(self, fn, n_threads):
        self.fn, self.n_threads = fn, n_threads

    @contextlib.contextmanager
    def cap(self):
        import fastprox

        previous = fastprox.set_num_threads(self.n_threads)
        try:
            yield
        finally:
            fastprox.set_num_threads(previous)

    def __call__(self):
        with self.cap():
            return self.fn()


def timer_from_args(args):
    """``time_calls`` with the script's --budget / --min-repeats."""
    def timed(fns, **kw):
        kw.setdefault("budget", args.budget)
        kw.setdefault("min_repeats", args.min_repeats)
        return time_calls(fns, **kw)
    return timed


# --------------------------------------------------------------------------- threads

@contextlib.contextmanager
def thread_limit(n):
    """Run fastprox kernels and BLAS with ``n`` threads inside the block."""
    import fastprox
    from threadpoolctl import threadpool_limits

    previous = fastprox.set_num_threads(n)
    try:
        with threadpool_limits(limits=n, user_api="blas"):
            yield fastprox.get_num_threads()
    finally:
        fastprox.set_num_threads(previous)


def other_threads_cpu():
    """CPU seconds of this process's threads other than the calling one (None off Linux)."""
    me = str(threading.get_native_id())
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return None
    total = 0
    for tid in tids:
        if tid != me:
            try:
                with open(f"/proc/self/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                continue  # a thread that ended meanwhile
    return total * 1e-9


def settle_threads(step=0.002, max_wait=0.3):
    """Wait (at most ``max_wait`` s) until this process's other threads have been idle for
    ``step`` s: OpenBLAS workers spin for ~0.1 s after a threaded call, and a sample taken
    meanwhile shares its second core with them."""
    t_end = time.perf_counter() + max_wait
    last = other_threads_cpu()
    while last is not None and time.perf_counter() < t_end:
        time.sleep(step)
        now = other_threads_cpu()
        if now - last < 0.1 * step:
            return
        last = now


# --------------------------------------------------------------------------- bandwidth

def measure_bandwidth(n_threads, n=2 * 10**7, budget=0.5, min_repeats=7):
    """Streaming bandwidth of an in-place NumPy triad over ``n`` float64, in GB/s.

    ``np.add(a, b, out=a)`` reads ``a`` and ``b`` and writes ``a``: 24 bytes
    per element, the same traffic as an in-place SGD step. With ``n_threads``
    > 1 each Python thread updates its own contiguous slice (NumPy releases the
    GIL inside the ufunc loop); the time is from releasing the threads to the
    last one finishing.
    """
    a = np.ones(n)
    b = np.full(n, 1e-9)
    bounds = np.linspace(0, n, n_threads + 1).astype(int)
    parts = [(a[lo:hi], b[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])]
    if n_threads == 1:
        def run():
            np.add(a, b, out=a)
    else:
        go = threading.Barrier(n_threads + 1)
        done = threading.Barrier(n_threads + 1)
        stop = [False]

        def worker(x, y):
            while True:
                go.wait()
                if stop[0]:
                    return
                np.add(x, y, out=x)
                done.wait()

        workers = [threading.Thread(target=worker, args=p, daemon=True) for p in parts]
        for w in workers:
            w.start()

        def run():
            go.wait()
            done.wait()
    try:
        t = time_call(run, budget=budget, min_repeats=min_repeats, warmup=2)
    finally:
        if n_threads > 1:
            stop[0] = True
            go.wait()
            for w in workers:
                w.join()
    nbytes = 24 * n
    return {"threads": n_threads, "n": n, "bytes_per_element": 24,
            "kernel": "np.add(a, b, out=a), float64",
            "gbps": nbytes / t["median"] / 1e9, "gbps_best": nbytes / t["min"] / 1e9,
            "ms": t["median"] * 1e3}


def bandwidths(args):
    """Measured bandwidth for every thread count of the run, keyed by thread count."""
    out = {}
    for n in sorted(set(args.threads)):
        out[n] = measure_bandwidth(n, n=args.bw_n, budget=min(max(args.budget, 0.05), 0.5),
                                   min_repeats=args.min_repeats)
    return out


def final_bandwidths(args, start):
    """Measure again at the end of the run and keep, per thread count, the higher median.

    On a shared machine a burst of someone else's memory traffic during one
    measurement would otherwise make every ``% bw`` of the run look too good.
    Both measurements are kept (``start``, ``end``) in the result.
    """
    end = bandwidths(args)
    out = {}
    for n, b in start.items():
        e = end[n]
        best = b if b["gbps"] >= e["gbps"] else e
        out[n] = dict(best, start=b["gbps"], end=e["gbps"])
    return out


def add_pct_bw(rows, bw, key="gbps"):
    """Fill ``pct_bw`` of every row that has a bandwidth figure (and isn't in cache)."""
    for r in rows:
        if r.get(key) is not None and not r.get("small"):
            r["pct_bw"] = 100 * r[key] / bw[r["threads"]]["gbps"]
        else:
            r["pct_bw"] = None


# --------------------------------------------------------------------------- output

def fmt(value, spec):
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return "-"
    return format(value, spec) if spec else str(value)


def print_table(rows, columns, title=None, file=None):
    """Print ``rows`` (dicts) as an aligned text table.

    ``columns`` is a list of ``(key, header, format_spec)``; text columns are
    left-aligned, numbers right-aligned; missing values print as ``-``.
    """
    file = file or sys.stdout
    cells = [[fmt(r.get(k), spec) for k, _, spec in columns] for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, (_, h, _) in enumerate(columns)]
    left = [any(isinstance(r.get(k), str) for r in rows)
            and all(isinstance(r.get(k), str) or r.get(k) is None for r in rows)
            for k, _, _ in columns]

    def line(values):
        return "  ".join(v.ljust(w) if lft else v.rjust(w)
                         for v, w, lft in zip(values, widths, left)).rstrip()

    if title:
        print(title, file=file)
    print(line([h for _, h, _ in columns]), file=file)
    print(line(["-" * w for w in widths]), file=file)
    for c in cells:
        print(line(c), file=file)
    file.flush()


def default_json_path(script):
    stamp = datetime.datetime.now().strftime("%Y-%m-%dT%H%M%S")
    host = socket.gethostname().split(".")[0] or "host"
    return os.path.join(RESULTS_DIR, f"{script}-{stamp}-{host}.json")


def write_json(doc, args, script):
    """Write ``doc`` to --json or the default results path; return the path (or None)."""
    if getattr(args, "no_json", False):
        return None
    path = args.json or default_json_path(script)
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, default=_json_default)
        f.write("\n")
    return path


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def make_doc(script, question, args, machine, bw, rows, **extra):
    """The JSON document every script writes."""
    doc = {
        "script": script,
        "question": question,
        "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "argv": sys.argv[1:],
        "args": {k: v for k, v in vars(args).items()},
        "machine": machine,
        "bandwidth": {str(k): v for k, v in sorted(bw.items())},
        "rows": rows,
        "loadavg_end": _loadavg(),
    }
    doc.update(extra)
    return doc


def warn(message):
    """Print ``WARNING: message`` to stderr (a row whose result disagrees with the reference)."""
    print(f"WARNING: {message}", file=sys.stderr)


def run_bench(script, question, args, run_rows, columns, legend, *, script_path=None,
              bandwidth=True, pct_bw=False, **extra):
    """The body of a script's ``main``; returns its exit code (0: every row agrees).

    Applies ``--simd`` (when ``script_path`` is given), prints the question
    and the machine, measures the streaming bandwidth before and after
    ``run_rows(args, timed)`` (unless ``bandwidth=False``; ``pct_bw`` fills
    the rows' ``pct_bw`` from it), prints the table of ``columns`` (see
    :func:`print_table`) and ``legend``, and writes the JSON document
    (:func:`make_doc`, with ``extra`` keys).
    """
    if script_path is not None:
        rc = handle_simd(args, script_path)
        if rc is not None:
            return rc
    machine = machine_info()
    print(question)
    print(describe(machine))
    bw_start = bandwidths(args) if bandwidth else None
    rows = run_rows(args, timer_from_args(args))
    bw = {}
    if bandwidth:
        bw = final_bandwidths(args, bw_start)
        if pct_bw:
            add_pct_bw(rows, bw)
        print(describe_bandwidth(bw))
    print()
    print_table(rows, columns)
    print(legend)
    doc = make_doc(script, question, args, machine, bw, rows,
                   columns={k: h for k, h, _ in columns}, **extra)
    path = write_json(doc, args, script)
    if path:
        print(f"JSON: {path}")
    return 0 if all(r["agrees"] for r in rows) else 1


# --------------------------------------------------------------------------- ISA variants

def simd_levels(spec):
    """'v3,v4' -> ['v3', 'v4']; 'all' -> every level this build can run."""
    if spec == "all":
        # import in a subprocess-free way: the dispatcher only reads cpu flags
        out = subprocess.run([sys.executable, "-c",
                              "from fastprox import _kernels; "
                              "print(','.join(reversed(_kernels.supported_levels())))"],
                             capture_output=True, text=True, check=True,
                             env={k: v for k, v in os.environ.items() if k != "FASTPROX_SIMD"})
        return out.stdout.strip().split(",")
    levels = [s.strip() for s in spec.split(",") if s.strip()]
    for lvl in levels:
        if lvl not in SIMD_LEVELS:
            raise SystemExit(f"--simd: unknown level {lvl!r}, expected {', '.join(SIMD_LEVELS)}")
    return levels


def handle_simd(args, script_path):
    """Apply --simd. Returns None to go on in-process, or an exit code.

    One level: set ``FASTPROX_SIMD`` before fastprox is imported and go on.
    Several: re-run the script per level in subprocesses (the variant is chosen
    once, at import), then print our timings side by side.
    """
    if not args.simd:
        return None
    levels = simd_levels(args.simd)
    if len(levels) == 1:
        if "fastprox" in sys.modules:
            raise RuntimeError("fastprox was imported before --simd was applied")
        os.environ["FASTPROX_SIMD"] = levels[0]
        return None
    argv = _strip_option(sys.argv[1:], "--simd")
    argv = _strip_option(argv, "--json")
    argv = [a for a in argv if a != "--no-json"]  # the children must write their JSON
    docs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for lvl in levels:
            path = os.path.join(tmp, f"{lvl}.json")
            print(f"=== FASTPROX_SIMD={lvl} " + "=" * 50, flush=True)
            env = dict(os.environ, FASTPROX_SIMD=lvl)
            rc = subprocess.call([sys.executable, script_path, *argv, "--simd", lvl,
                                  "--json", path], env=env)
            if rc != 0:
                return rc
            with open(path) as f:
                docs[lvl] = json.load(f)
    script = os.path.splitext(os.path.basename(script_path))[0]
    rows = compare_levels(docs, levels)
    print()
    print_table(rows, [("op", "op", ""), ("dtype", "dtype", ""), ("size", "size", ""),
                       ("threads", "thr", "d")]
                + [(f"ms_{lvl}", f"ms {lvl}", ".3f") for lvl in levels]
                + [(f"x_{lvl}", f"{levels[0]}/{lvl}", ".2f") for lvl in levels[1:]],
                title=f"Our kernels per ISA level (ms, median; ratio > 1: faster than "
                      f"{levels[0]})")
    combined = {"script": script, "question": "kernel variants compared",
                "levels": levels, "rows": rows, "runs": docs}
    if not args.no_json:
        path = args.json or default_json_path(script + "-simd")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump(combined, f, indent=1)
        print(f"\nJSON: {path}")
    return 0


def _strip_option(argv, name):
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == name:
            skip = True
            continue
        if a.startswith(name + "="):
            continue
        out.append(a)
    return out


def compare_levels(docs, levels):
    key = ("op", "dtype", "size", "threads")
    table = {}
    order = []
    for lvl in levels:
        for r in docs[lvl]["rows"]:
            k = tuple(r.get(f) for f in key)
            if k not in table:
                table[k] = dict(zip(key, k))
                order.append(k)
            table[k][f"ms_{lvl}"] = r.get("ms_ours")
    rows = [table[k] for k in order]
    for r in rows:
        base = r.get(f"ms_{levels[0]}")
        for lvl in levels[1:]:
            v = r.get(f"ms_{lvl}")
            r[f"x_{lvl}"] = base / v if base and v else None
    return rows
