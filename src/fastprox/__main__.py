"""Command line: ``python -m fastprox info | demo``."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastprox", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="print version, OpenMP, threads and kernel variant")
    demo = sub.add_parser("demo", help="train a pruned MLP on digits and print the savings report")
    demo.add_argument("--quick", action="store_true", help="fewer epochs (for smoke tests)")
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
