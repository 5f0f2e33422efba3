"""Command line: ``python -m fastprox info | demo | bench``."""
import argparse
import importlib.util
import os
import sys


def find_bench_dir():
    """The ``bench/`` directory of a source checkout, or None.

    Looked for in ``$FASTPROX_BENCH_DIR``, then ``./bench`` and the parents of
    the current directory, then next to the package (``src/fastprox/../../bench``
    in a checkout or an in-place build). A wheel doesn't ship the scripts.
    """
    candidates = []
    if os.environ.get("FASTPROX_BENCH_DIR"):
        candidates.append(os.environ["FASTPROX_BENCH_DIR"])
    d = os.path.abspath(os.getcwd())
    while True:
        candidates.append(os.path.join(d, "bench"))
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    pkg = os.path.dirname(os.path.abspath(__file__))
    candidates.append(os.path.join(pkg, os.pardir, os.pardir, "bench"))
    for c in candidates:
        if os.path.isfile(os.path.join(c, "run_all.py")):
            return os.path.abspath(c)
    return None


def run_bench(argv):
    """``python -m fastprox bench ARGS``: bench/run_all.py of the source checkout."""
    bench = find_bench_dir()
    if bench is None:
        print("python -m fastprox bench: the benchmark scripts (bench/run_all.py) were not "
              "found.\nThey are part of the source checkout and the sdist, not of the wheel: "
              "run this from a checkout\n(git clone ...; cd fastprox; python -m fastprox bench) "
              "or set FASTPROX_BENCH_DIR=/path/to/bench.", file=sys.stderr)
        return 2
    spec = importlib.util.spec_from_file_location("_fastprox_run_all",
                                                  os.path.join(bench, "run_all.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastprox", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="print version, OpenMP, threads and kernel variant")
    demo = sub.add_parser("demo", help="train a pruned MLP on digits and print the savings report")
    demo.add_argument("--quick", action="store_true", help="fewer epochs (for smoke tests)")
    sub.add_parser("bench", add_help=False,
                   help="run every benchmark script of a source checkout (bench/run_all.py; "
                        "`bench --help` lists its options)")
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        return run_bench(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "info":
        from ._config import show_config

        show_config()
        return 0
    if args.command == "demo":
        from ._demo import run_demo

        return run_demo(quick=args.quick)
    return 2


if __name__ == "__main__":
    sys.exit(main())
