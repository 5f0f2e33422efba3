"""Command line: ``python -m fastprox info | demo | bench``."""
import argparse
import importlib.util
import os
import sys

_NOT_FOUND = """\
python -m fastprox bench: {what}
The benchmark scripts (bench/run_all.py) are part of the source checkout and the sdist, not
of the wheel. Point to them with --bench-dir DIR or FASTPROX_BENCH_DIR=DIR, or run the
fastprox of a source checkout (pip install -e .), whose bench/ is found next to src/.
The current directory and its parents are never searched."""


def _checkout_bench():
    """``<checkout>/bench`` if this package is ``<checkout>/src/fastprox`` and has run_all.py."""
    src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.basename(src) != "src":
        return None
    bench = os.path.join(os.path.dirname(src), "bench")
    return bench if os.path.isfile(os.path.join(bench, "run_all.py")) else None


def find_bench_dir(bench_dir=None):
    """The ``bench/`` directory to run, or None.

    Only where the user points (``bench_dir``, from ``--bench-dir``, else
    ``$FASTPROX_BENCH_DIR``) or, when neither is given, the source checkout the
    imported package comes from (``<checkout>/src/fastprox`` ->
    ``<checkout>/bench``). Never the current directory or its parents: a
    ``run_all.py`` planted in a shared parent (a temp directory) would be run.
    """
    pointed = bench_dir or os.environ.get("FASTPROX_BENCH_DIR")
    if pointed:
        pointed = os.path.abspath(pointed)
        return pointed if os.path.isfile(os.path.join(pointed, "run_all.py")) else None
    return _checkout_bench()


def run_bench(argv):
    """``python -m fastprox bench ARGS``: bench/run_all.py with ARGS (``--bench-dir`` included)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--bench-dir")
    known, _ = pre.parse_known_args(argv)
    bench = find_bench_dir(known.bench_dir)
    if bench is None:
        pointed = known.bench_dir or os.environ.get("FASTPROX_BENCH_DIR")
        if pointed:
            how = "--bench-dir" if known.bench_dir else "FASTPROX_BENCH_DIR"
            what = f"no run_all.py in {os.path.abspath(pointed)} (from {how})."
        else:
            what = "this fastprox is not a source checkout with bench/run_all.py."
        print(_NOT_FOUND.format(what=what), file=sys.stderr)
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
                   help="run every benchmark script of a source checkout (bench/run_all.py, "
                        "found with --bench-dir DIR, $FASTPROX_BENCH_DIR or next to src/ of "
                        "this checkout; `bench --help` lists its options)")
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
