"""Run every benchmark script and combine the results into one JSON, a markdown summary and plots.

    python bench/run_all.py [--quick | --smoke] [--out DIR] [--only bench_prox bench_spmv]
    python -m fastprox bench [same options]

Discovers ``bench/bench_*.py``, runs each one in a subprocess (with
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` removed from the child's
environment: they make OpenBLAS pick a slower kernel), collects the JSON it
writes and records its exit status, time and the tail of its output. A script
that is missing, fails or times out is recorded as such and the run goes on.

Writes ``DIR/<date>-<host>.json`` (``-quick`` / ``-smoke`` appended in those
modes): the machine's description and every script's results, and
``DIR/RESULTS.md``: ratios (ours / reference in the same run) one section per
script, plus PNG plots next to it when matplotlib is installed.

Modes: default (full sizes, 13-20 minutes on 2 cores), ``--quick`` (each
script's ``--quick`` plus short sweeps, under 2 minutes), ``--smoke`` (the
smallest sizes, for tests; seconds). A script may declare a module-level
``RUN_ALL_ARGS = {"full": [...], "quick": [...], "smoke": [...]}`` (a literal:
it is read with ``ast``, not imported) with the extra arguments for each mode;
``DEFAULT_ARGS`` below covers the scripts that don't.
"""
import argparse
import ast
import datetime
import glob
import json
import os
import socket
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)

# Scripts the summary knows about; reported as "missing" when absent.
EXPECTED = ("bench_prox", "bench_spmv", "bench_mlp", "bench_lasso", "bench_logistic")
MODES = ("full", "quick", "smoke")
# Removed from the children's environment (see the module docstring).
DROP_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_SMALL_COMMON = ["--budget", "0.002", "--min-repeats", "1", "--bw-n", "100000"]
DEFAULT_ARGS = {
    "bench_prox": {"smoke": ["--n", "20000", "--small-n", "0"] + _SMALL_COMMON},
    "bench_spmv": {"smoke": ["--spmv-shape", "2000", "200", "--layer", "32", "--batch", "8",
                             "--inner", "8", "--prune-shape", "32", "32"] + _SMALL_COMMON},
    "bench_mlp": {},
    "bench_lasso": {"smoke": _SMALL_COMMON},
    "bench_logistic": {"smoke": _SMALL_COMMON + ["--threads", "1"]},
}
OUTPUT_TAIL = 4000


def discover(bench_dir=BENCH_DIR):
    """Names (without .py) of the bench_*.py scripts in ``bench_dir``, sorted."""
    return sorted(os.path.splitext(os.path.basename(p))[0]
                  for p in glob.glob(os.path.join(bench_dir, "bench_*.py")))


def script_args(path, mode):
    """Extra arguments for ``mode``: the script's RUN_ALL_ARGS, else DEFAULT_ARGS."""
    name = os.path.splitext(os.path.basename(path))[0]
    declared = None
    try:
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        for node in tree.body:
            if (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id == "RUN_ALL_ARGS"):
                declared = ast.literal_eval(node.value)
    except (OSError, SyntaxError, ValueError):
        declared = None
    table = declared if isinstance(declared, dict) else DEFAULT_ARGS.get(name, {})
    extra = table.get(mode)
    if extra is None and mode == "smoke":
        extra = table.get("quick", [])
    return [str(a) for a in (extra or [])]


def child_env():
    """os.environ without DROP_ENV, with the fastprox this process imports on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k not in DROP_ENV}
    try:
        import fastprox

        parent = os.path.dirname(os.path.dirname(os.path.abspath(fastprox.__file__)))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (parent, env.get("PYTHONPATH")) if p)
    except ImportError:
        pass
    return env


def _options(path, env, timeout=120):
    """The option names a script's ``--help`` mentions (empty if --help fails)."""
    try:
        proc = subprocess.run([sys.executable, path, "--help"], capture_output=True, text=True,
                              env=env, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return {w.strip("[],") for w in proc.stdout.split() if w.startswith(("--", "[--"))}


def supported(extra, opts):
    """``extra`` without the options (and their values) that the script doesn't have.

    So that a default like ``--budget`` reaches only the scripts that take it.
    """
    if not opts:
        return list(extra)
    out, keep = [], True
    for a in extra:
        if a.startswith("--"):
            keep = a.split("=")[0] in opts
        if keep:
            out.append(a)
    return out


def _tail(text):
    return text if len(text) <= OUTPUT_TAIL else "..." + text[-OUTPUT_TAIL:]


def run_script(name, mode, workdir, *, bench_dir=BENCH_DIR, timeout=None, passthrough=(),
               env=None, echo=True):
    """Run one script; returns the record stored under ``scripts[name]`` in the combined JSON."""
    path = os.path.join(bench_dir, name + ".py")
    rec = {"script": name, "path": path, "status": None, "returncode": None, "seconds": None,
           "argv": None, "result": None}
    if not os.path.exists(path):
        rec["status"] = "missing"
        return rec
    env = child_env() if env is None else env
    opts = _options(path, env)
    argv = [sys.executable, path]
    if mode in ("quick", "smoke") and "--quick" in opts:
        argv.append("--quick")
    json_path = os.path.join(workdir, name + ".json")
    out_dir = None
    if "--json" in opts:
        argv += ["--json", json_path]
    elif "--out" in opts:
        out_dir = os.path.join(workdir, name)
        os.makedirs(out_dir, exist_ok=True)
        argv += ["--out", out_dir]
    argv += supported(script_args(path, mode), opts) + list(passthrough)
    rec["argv"] = argv[1:]
    if echo:
        print(f"--- {name}: {' '.join(argv[1:])}", flush=True)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout,
                              cwd=os.path.dirname(bench_dir))
        rec["returncode"] = proc.returncode
        stdout, stderr = proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as e:
        rec["status"] = "timeout"
        stdout = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else e.stdout
        stderr = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr
        stdout, stderr = stdout or "", stderr or ""
    rec["seconds"] = round(time.perf_counter() - t0, 2)
    rec["stdout"] = _tail(stdout)
    rec["stderr"] = _tail(stderr)
    if out_dir is not None:
        found = sorted(glob.glob(os.path.join(out_dir, "*.json")), key=os.path.getmtime)
        json_path = found[-1] if found else json_path
    if os.path.exists(json_path):
        try:
            with open(json_path) as f:
                rec["result"] = json.load(f)
        except ValueError as e:
            rec["json_error"] = str(e)
    if rec["status"] is None:
        if rec["returncode"] != 0:
            rec["status"] = "failed"
        elif rec["result"] is None:
            rec["status"] = "no-json"
        else:
            rec["status"] = "ok"
    if echo:
        print(f"    {rec['status']} in {rec['seconds']:.1f} s"
              + (f" (exit {rec['returncode']})" if rec["returncode"] else ""), flush=True)
        if rec["status"] != "ok":
            print("    " + "\n    ".join(_tail(stderr or stdout).splitlines()[-8:]), flush=True)
    return rec


def machine_description():
    """The machine, the thread settings, BLAS and the library versions."""
    import _common

    m = _common.machine_info()
    versions = {"python": m.get("python"), "numpy": m.get("numpy"), "scipy": m.get("scipy"),
                "threadpoolctl": m.get("threadpoolctl")}
    for mod in ("fastprox", "sklearn", "Cython", "matplotlib", "dask", "dask_ml"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # not installed (or broken): leave it out
            pass
    import fastprox

    m["openmp_threads"] = fastprox.get_num_threads()
    m["blas"] = [{k: p.get(k) for k in ("internal_api", "version", "architecture",
                                        "threading_layer", "num_threads", "filepath")}
                 for p in m.get("threadpools", []) if p.get("user_api") == "blas"]
    m["versions"] = versions
    m["child_env_removed"] = [k for k in DROP_ENV if k in os.environ]
    return m


def result_path(out, mode, now=None):
    now = now or datetime.datetime.now()
    host = socket.gethostname().split(".")[0] or "host"
    suffix = "" if mode == "full" else f"-{mode}"
    return os.path.join(out, f"{now:%Y-%m-%d}-{host}{suffix}.json")


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="run_all", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true",
                   help="each script's --quick and short sweeps (under 2 minutes in all)")
    g.add_argument("--smoke", action="store_true",
                   help="the smallest sizes (for tests; not meaningful numbers)")
    p.add_argument("--out", default=os.path.join(BENCH_DIR, "results"),
                   help="directory for <date>-<host>.json, RESULTS.md and the plots")
    p.add_argument("--only", nargs="+", metavar="SCRIPT",
                   help="run only these scripts (names like bench_spmv)")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds per script (default 900, 300 with --quick, 120 with --smoke)")
    p.add_argument("--script-args", action="append", default=[], metavar="SCRIPT=ARGS",
                   help="extra arguments for one script, e.g. "
                        "'bench_mlp=--data /work/shared/data/mnist' (repeatable)")
    p.add_argument("--no-plots", action="store_true", help="don't draw PNG plots")
    p.add_argument("--bench-dir", default=BENCH_DIR,
                   help="where to look for the bench_*.py scripts")
    args = p.parse_args(argv)
    args.mode = "quick" if args.quick else "smoke" if args.smoke else "full"
    if args.timeout is None:
        args.timeout = {"full": 900, "quick": 300, "smoke": 120}[args.mode]
    extra = {}
    for item in args.script_args:
        name, sep, rest = item.partition("=")
        if not sep:
            p.error(f"--script-args: expected SCRIPT=ARGS, got {item!r}")
        extra.setdefault(name.strip(), []).extend(rest.split())
    args.extra = extra
    args.bench_dir = os.path.abspath(args.bench_dir)
    return args


def main(argv=None):
    import tempfile

    import _summary

    args = parse_args(argv)
    names = discover(args.bench_dir)
    if args.only:
        names = list(args.only)
    else:
        names = sorted(set(names) | set(EXPECTED), key=lambda n: (n not in EXPECTED, n))
    for k in DROP_ENV:
        if k in os.environ:
            print(f"note: {k} is set here; removed from the benchmarks' environment")
    os.makedirs(args.out, exist_ok=True)
    started = datetime.datetime.now()
    t0 = time.perf_counter()
    doc = {"created": started.astimezone().isoformat(timespec="seconds"), "mode": args.mode,
           "argv": sys.argv[1:] if argv is None else list(argv),
           "machine": machine_description(), "scripts": {}}
    print(f"fastprox benchmarks ({args.mode} mode): {', '.join(names)}", flush=True)
    env = child_env()
    with tempfile.TemporaryDirectory(prefix="fastprox-bench-") as work:
        for name in names:
            doc["scripts"][name] = run_script(name, args.mode, work, bench_dir=args.bench_dir,
                                              timeout=args.timeout,
                                              passthrough=args.extra.get(name, ()), env=env)
    doc["seconds"] = round(time.perf_counter() - t0, 1)
    path = result_path(args.out, args.mode, started)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, default=str)
        f.write("\n")
    plots, note = ([], "plots not drawn (--no-plots)") if args.no_plots else \
        _summary.make_plots(doc, args.out)
    md = _summary.results_markdown(doc, os.path.basename(path), plots, note)
    md_path = os.path.join(args.out, "RESULTS.md")
    with open(md_path, "w") as f:
        f.write(md)
    print(f"\n{len(names)} scripts in {doc['seconds']:.0f} s: "
          + ", ".join(f"{n} {r['status']}" for n, r in doc["scripts"].items()))
    print(f"JSON: {path}\nsummary: {md_path}")
    if note:
        print(note)
    for p_ in plots:
        print(f"plot: {os.path.join(args.out, p_)}")
    bad = [n for n, r in doc["scripts"].items() if r["status"] not in ("ok", "missing")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
