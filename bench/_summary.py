"""RESULTS.md and PNG plots from the combined JSON that bench/run_all.py writes.

Every figure here is a ratio of two numbers measured in the same run (ours /
reference), so results from different machines and days can be compared.
Scripts this module doesn't know get a generic section (their rows' ratio
columns). matplotlib is optional: without it :func:`make_plots` draws nothing
and says so.
"""
import math
import os

# Identifying columns looked for in rows of scripts without a dedicated section.
_KEY_COLS = ("op", "kernel", "model", "estimator", "solver", "ref_solver", "config", "dataset",
             "dtype", "size", "shape", "alpha", "sparsity", "threads")
_RATIO_HINTS = ("speedup", "x_", "ratio", "pct", "delta", "rel_", "agrees")


def _f(v, spec=".2f"):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "**NO**"
    if isinstance(v, (int, float)):
        return format(v, spec)
    return str(v)


def _table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def _rows(doc, name):
    rec = doc["scripts"].get(name) or {}
    res = rec.get("result") or {}
    return res.get("rows") if isinstance(res.get("rows"), list) else None


# --------------------------------------------------------------------------- sections

def _section_prox(res):
    rows = [[r["op"], r["dtype"], r["size"] + (" (cache)" if r.get("small") else ""),
             str(r["threads"]), _f(r.get("speedup")), _f(r.get("pct_bw"), ".0f"),
             _f(r.get("agrees"))] for r in res["rows"]]
    return (["Fused proximal updates against the NumPy code users would write "
             "(speed-up = NumPy time / ours) and the share of the streaming bandwidth "
             "measured in the same run.", ""]
            + _table(["update", "dtype", "N", "threads", "speed-up vs NumPy", "% bandwidth",
                      "agrees"], rows))


def _section_spmv(res):
    rows = [[r["op"], r["dtype"], r["size"], str(r["threads"]), r.get("ref", "-"),
             _f(r.get("speedup")), _f(r.get("speedup_pre")),
             _f(r["ms_scipy"] / (r.get("ms_pre") or r["ms_ours"]) if r.get("ms_scipy")
                else None),
             _f(r.get("pct_bw"), ".0f"), _f(r.get("agrees"))] for r in res["rows"]]
    return (["CSR kernels against SciPy or the dense BLAS product of the unpruned matrix "
             "(x ref = reference time / ours; *pre*: matrix validated once beforehand; x scipy: "
             "SciPy's sparse product, one thread, / our pre-validated call).", ""]
            + _table(["op", "dtype", "size", "threads", "reference", "x ref", "x ref pre",
                      "x scipy (pre)", "% bandwidth", "agrees"], rows))


def _mlp_rows(res):
    return res.get("fastprox") or []


def _section_mlp(res):
    sk = res.get("sklearn") or {}
    rows = _mlp_rows(res)
    dense = next((r for r in rows if r.get("sparsity") == 0), None)
    out = [f"Pruned MLP {tuple(res.get('hidden', ()))} on {res.get('dataset')}: accuracy against "
           f"the unpruned fastprox model and scikit-learn's dense MLPClassifier "
           f"(accuracy {_f(sk.get('accuracy'), '.4f')}); times dense / sparse "
           "(> 1: the pruned model is faster).", ""]
    body = []
    for r in rows:
        ep = (r["dense_epoch_ms"] / r["sparse_epoch_ms"]
              if r.get("sparse_epoch_ms") and math.isfinite(r["sparse_epoch_ms"]) else None)
        fwd = (r["fwd_dense_b256_us"] / r["fwd_stored_b256_us"]
               if r.get("fwd_stored_b256_us") else None)
        fwd1 = r["fwd_dense_b1_us"] / r["fwd_stored_b1_us"] if r.get("fwd_stored_b1_us") else None
        body.append([_f(r.get("sparsity"), ".2f"), _f(r.get("achieved_sparsity"), ".3f"),
                     _f(r.get("accuracy"), ".4f"),
                     _f(100 * (r["accuracy"] - dense["accuracy"]) if dense else None, "+.2f"),
                     _f(100 * (r["accuracy"] - sk["accuracy"]) if "accuracy" in sk else None,
                        "+.2f"),
                     _f(ep), _f(fwd), _f(fwd1), _f(r.get("memory_ratio"), ".1f"),
                     ",".join(r.get("storage") or [])])
    return out + _table(["target sparsity", "achieved", "accuracy", "Δ vs unpruned (pts)",
                         "Δ vs sklearn (pts)", "epoch x", "forward x (b=256)",
                         "forward x (b=1)", "memory x", "storage"], body)


def _section_generic(res):
    rows = res.get("rows")
    if not isinstance(rows, list) or not rows or not isinstance(rows[0], dict):
        return ["(no table rows in this script's JSON; see the combined JSON)"]
    keys = []
    for r in rows:
        for k in r:
            if k not in keys:
                keys.append(k)
    ident = [k for k in _KEY_COLS if k in keys]
    ratios = [k for k in keys if k not in ident and any(h in k for h in _RATIO_HINTS)
              and all(isinstance(r.get(k), (int, float, bool, type(None))) for r in rows)]
    if not ratios:
        ratios = [k for k in keys if k.startswith(("ms_", "time", "seconds"))][:4]
    body = [[_f(r.get(k)) if k not in ident else str(r.get(k, "-")) for k in ident + ratios]
            for r in rows]
    return (["Ratio columns of this script's rows (as named in its JSON).", ""]
            + _table(ident + ratios, body))


def _section_logistic(res):
    rows = [[r["case"], r["dtype"], str(r["threads"]), _f(r.get("ms_ours"), ".1f"),
             _f(r.get("ms_ref"), ".1f"), _f(r.get("speedup")),
             f"{r.get('n_iter_ours', '-')} / {r.get('n_iter_ref', '-')}",
             _f(r.get("obj_rel"), ".1e"), _f(r.get("agrees"))] for r in res["rows"]]
    return (["Default-parameter LogisticRegression (L2, C=1, tol=1e-4) against scikit-learn's "
             "lbfgs (speed-up = scikit-learn's time / ours; obj rel = relative objective "
             "difference). At 2 threads scikit-learn's multinomial fits use 2 BLAS threads: "
             "read the 1-thread rows for the solvers' comparison.", ""]
            + _table(["case", "dtype", "threads", "ms ours", "ms sklearn", "speed-up",
                      "iterations ours / sklearn", "obj rel", "agrees"], rows))


SECTIONS = {"bench_prox": _section_prox, "bench_spmv": _section_spmv, "bench_mlp": _section_mlp,
            "bench_logistic": _section_logistic}


def thread_scaling(doc):
    """(script, op, dtype, size, ms at 1 thread, ms at 2 threads, speed-up) for paired rows.

    Where a 2-thread row carries a 1-thread time measured interleaved with it
    (``ms_pre_1t``), that one is used.
    """
    out = []
    for name in ("bench_prox", "bench_spmv", "bench_lasso"):
        rows = _rows(doc, name) or []
        by = {}
        for r in rows:
            if "threads" in r and r.get("ms_ours"):
                key = (r.get("op"), r.get("dtype"), r.get("size"))
                by.setdefault(key, {})[r["threads"]] = r.get("ms_pre") or r["ms_ours"]
            if r.get("threads", 1) > 1 and r.get("ms_pre_1t"):
                # one thread timed in the same interleaved set (bench_prox, bench_spmv): compared
                # with samples taken together rather than rows minutes apart; bench_spmv takes
                # both in a set of their own, without the BLAS reference (ms_pre_nt)
                key = (r.get("op"), r.get("dtype"), r.get("size"))
                by.setdefault(key, {})["paired"] = (r["ms_pre_1t"], r.get("ms_pre_nt"))
        for key, t in by.items():
            if 1 in t and 2 in t:
                one, two = t.get("paired", (t[1], t[2]))
                two = two or t[2]
                out.append((name,) + key + (one, two, one / two))
    return out


def _machine_lines(m):
    blas = ", ".join(f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')}, "
                     f"{b.get('num_threads')} threads)" for b in m.get("blas", [])) or "none found"
    fp = m.get("fastprox") or {}
    versions = ", ".join(f"{k} {v}" for k, v in (m.get("versions") or {}).items())
    lines = [
        f"- **CPU**: {m.get('cpu_model')}; {m.get('physical_cores')} cores / "
        f"{m.get('logical_cpus')} logical ({m.get('affinity_cpus')} usable); "
        f"caches {' '.join(f'{k} {v}' for k, v in (m.get('caches') or {}).items())}; "
        f"memory {m.get('memory')}",
        f"- **ISA**: {' '.join(m.get('isa_flags') or [])}; fastprox kernels "
        f"`{fp.get('simd_level')}`, OpenMP {'yes' if fp.get('openmp') else 'no'}, "
        f"{m.get('openmp_threads')} threads",
        f"- **BLAS** (threadpoolctl): {blas}",
        f"- **versions**: {versions}",
        f"- **load** at start: {m.get('loadavg')}",
    ]
    load, cpus = m.get("loadavg"), m.get("affinity_cpus") or m.get("logical_cpus")
    if load and cpus and load[0] > 0.5 * cpus:
        lines.append(f"- **WARNING**: load {load[0]:.1f} on {cpus} CPUs at the start: other "
                     "processes were running, so multi-thread timings (and their ratios) "
                     "are unreliable in this run")
    if m.get("child_env_removed"):
        lines.append(f"- removed from the benchmarks' environment: "
                     f"{', '.join(m['child_env_removed'])}")
    return lines


def results_markdown(doc, json_name, plots=(), plot_note=None):
    """The RESULTS.md text for the combined document ``doc``."""
    lines = [f"# fastprox benchmark results", "",
             f"{doc['created']}, `{doc['mode']}` mode, {doc.get('seconds', '?')} s in all; "
             f"every number below is from `{json_name}`. Ratios are ours / reference measured "
             "in the same run (> 1: fastprox is faster), accuracy deltas in percentage points.",
             "", "## Machine", ""]
    lines += _machine_lines(doc["machine"])
    lines += ["", "## Scripts", ""]
    lines += _table(["script", "status", "seconds", "exit"],
                    [[n, r["status"], _f(r.get("seconds"), ".1f"), _f(r.get("returncode"), "d")]
                     for n, r in doc["scripts"].items()])
    for name, rec in doc["scripts"].items():
        lines += ["", f"## {name}", ""]
        res = rec.get("result")
        if rec["status"] == "missing":
            lines.append(f"Not run: `bench/{name}.py` is not in this checkout.")
            continue
        if rec["status"] != "ok":
            err = (rec.get("stderr") or rec.get("stdout") or "").strip().splitlines()[-6:]
            lines += [f"**{rec['status']}** (exit {rec.get('returncode')}) after "
                      f"{_f(rec.get('seconds'), '.1f')} s; last lines of its output:", "", "```"]
            lines += err + ["```"]
            if not res:
                continue
            lines.append("")
        if res.get("question"):
            lines += [f"*{res['question']}*", ""]
        try:
            lines += SECTIONS.get(name, _section_generic)(res)
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as e:
            lines += [f"(could not summarise: {type(e).__name__}: {e})", ""]
            lines += _section_generic(res)
    scaling = thread_scaling(doc)
    if scaling:
        lines += ["", "## Thread scaling", "",
                  "Our time at 1 thread / at 2 threads (pre-validated call where there is one; "
                  "where the 2-thread row carries it (bench_prox, bench_spmv), the 1-thread "
                  "time sampled interleaved with the 2-thread samples; bench_spmv times the "
                  "pair in a set of its own, without the dense BLAS reference); "
                  "2.0 is perfect scaling on 2 cores.", ""]
        lines += _table(["script", "op", "dtype", "size", "ms 1 thread", "ms 2 threads",
                         "speed-up"],
                        [[s, str(o), str(d), str(z), _f(a, ".3f"), _f(b, ".3f"), _f(x)]
                         for s, o, d, z, a, b, x in scaling])
    lines += ["", "## Plots", ""]
    if plot_note:
        lines.append(plot_note)
    for p in plots:
        lines += [f"![{os.path.splitext(p)[0]}]({p})", ""]
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- plots

def make_plots(doc, out_dir):
    """Draw the PNG plots into ``out_dir``; returns (file names, note or None)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return [], ("matplotlib is not installed: no plots "
                    "(`pip install fastprox[bench]` or `pip install matplotlib`).")
    drawn = []
    for fn in (_plot_density, _plot_layers, _plot_threads, _plot_mlp, _plot_mlp_speed, _plot_lasso):
        try:
            name = fn(doc, plt)
        except Exception as e:  # a plot must never cost the results
            print(f"plot {fn.__name__} failed: {type(e).__name__}: {e}")
            plt.close("all")
            continue
        if name:
            plt.savefig(os.path.join(out_dir, name), dpi=110, bbox_inches="tight")
            plt.close("all")
            drawn.append(name)
    return drawn, None


def _plot_density(doc, plt):
    rows = _rows(doc, "bench_spmv") or []
    threads = sorted({r["threads"] for r in rows})
    if not rows:
        return None
    fig, axes = plt.subplots(1, len(threads), figsize=(5.5 * len(threads), 4), sharey=True,
                             squeeze=False)
    any_series = False
    for ax, t in zip(axes[0], threads):
        series = {}
        for r in rows:
            if r["threads"] != t or r.get("index_dtype", "int32") != "int32":
                continue  # the int64 rows (one density) would zig-zag the int32 curves
            if r["op"] in ("spmv", "spmv_t") and r.get("density") is not None:
                x = r["density"]
            elif r["op"] == "spmm" and r.get("sparsity") is not None:
                x = 1 - r["sparsity"]
            else:
                continue
            ref = "scipy" if r["op"] != "spmm" else "dense BLAS"
            y = r.get("speedup_pre") or r["speedup"]
            series.setdefault(f"{r['op']} {r['dtype']} vs {ref}", []).append((x, y))
        for label, pts in sorted(series.items()):
            pts.sort()
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=label)
            any_series = True
        ax.axhline(1, color="grey", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("density (nonzeros / entries)")
        ax.set_title(f"{t} thread{'s' if t > 1 else ''}")
        if series:
            ax.legend(fontsize=7)
    if not any_series:
        plt.close(fig)
        return None
    axes[0][0].set_ylabel("speed-up (reference time / ours, pre-validated)")
    fig.suptitle("CSR products: speed-up vs density")
    return "spmv_density.png"


def _plot_layers(doc, plt):
    """Deployment-sized pruned layers: speed-up vs sparsity, one column per batch size
    (rows: against dense BLAS, against SciPy), at the largest thread count measured."""
    rows = [r for r in _rows(doc, "bench_spmv") or [] if r.get("case") == "layers"]
    if not rows:
        return None
    threads = max(r["threads"] for r in rows)
    batches = sorted({r["batch"] for r in rows})
    refs = (("dense BLAS W@X", "speedup_pre"), ("SciPy A@X", "speedup_scipy"))
    fig, axes = plt.subplots(len(refs), len(batches), figsize=(4.2 * len(batches), 7),
                             sharex=True, squeeze=False)
    for i, (ref, key) in enumerate(refs):
        for ax, b in zip(axes[i], batches):
            series = {}
            for r in rows:
                if r["threads"] == threads and r["batch"] == b and r.get(key):
                    label = f"{r['size'].split()[0]} {r['dtype']}"
                    series.setdefault(label, []).append((100 * r["sparsity"], r[key]))
            for label, pts in sorted(series.items()):
                pts.sort()
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=label)
            ax.axhline(1, color="grey", lw=0.8, ls="--")
            ax.set_yscale("log")
            ax.set_title(f"batch {b}, vs {ref}", fontsize=9)
            if series:
                ax.legend(fontsize=7)
        axes[i][0].set_ylabel("reference time / ours (pre-validated)")
    for ax in axes[-1]:
        ax.set_xlabel("sparsity of the weights (%)")
    fig.suptitle(f"Pruned layers: speed-up vs sparsity ({threads} thread"
                 f"{'s' if threads > 1 else ''})")
    return "layers_speedup.png"


def _plot_threads(doc, plt):
    scaling = thread_scaling(doc)
    if not scaling:
        return None
    labels = [f"{o} {d} {z}" for _, o, d, z, *_ in scaling]
    fig, ax = plt.subplots(figsize=(6.5, 0.25 * len(labels) + 1.2))
    ax.barh(range(len(labels)), [s[-1] for s in scaling], color="tab:blue")
    ax.axvline(1, color="grey", lw=0.8, ls="--")
    ax.axvline(2, color="grey", lw=0.8, ls=":")
    ax.set_yticks(range(len(labels)), labels, fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("time at 1 thread / time at 2 threads")
    ax.set_title("Thread scaling of our kernels")
    return "thread_scaling.png"


def _mlp_result(doc):
    return (doc["scripts"].get("bench_mlp") or {}).get("result") or {}


def _sparsity_axes(ax, ylabel, title, res):
    """Axis labels, title (with the data set) and legend of a plot against weight sparsity."""
    ax.set_xlabel("sparsity of the weights (%)")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title} ({res.get('dataset')})")
    ax.legend()


def _plot_mlp(doc, plt):
    res = _mlp_result(doc)
    rows = _mlp_rows(res)
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    pts = sorted((r["achieved_sparsity"], r["accuracy"]) for r in rows)
    ax.plot([100 * p[0] for p in pts], [p[1] for p in pts], "o-", label="fastprox pruned MLP")
    sk = res.get("sklearn") or {}
    if "accuracy" in sk:
        ax.axhline(sk["accuracy"], color="tab:orange", ls="--", label="scikit-learn dense MLP")
    _sparsity_axes(ax, "test accuracy", "Accuracy vs sparsity", res)
    return "mlp_accuracy.png"


def _plot_mlp_speed(doc, plt):
    """Pruned-MLP speed-ups (epoch, forward at batch 256 and 1) against weight sparsity."""
    res = _mlp_result(doc)
    series = {"training epoch": ("dense_epoch_ms", "sparse_epoch_ms"),
              "forward, batch 256": ("fwd_dense_b256_us", "fwd_stored_b256_us"),
              "forward, batch 1": ("fwd_dense_b1_us", "fwd_stored_b1_us")}
    rows = [r for r in _mlp_rows(res) if r.get("achieved_sparsity") is not None]
    fig, ax = plt.subplots(figsize=(6, 4))
    drawn = False
    for label, (dense, sparse) in series.items():
        pts = sorted((100 * r["achieved_sparsity"], r[dense] / r[sparse]) for r in rows
                     if r.get(dense) and r.get(sparse) and math.isfinite(r[sparse]))
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=label)
            drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.axhline(1, color="grey", lw=0.8, ls="--")
    _sparsity_axes(ax, "speed-up over the dense network", "Pruned MLP speed-up vs sparsity",
                   res)
    return "mlp_speedup.png"


def _plot_lasso(doc, plt):
    rows = _rows(doc, "bench_lasso") or []
    pts = []
    for r in rows:
        ours = next((r[k] for k in ("ms_ours", "time_ours", "seconds_ours", "fit_s") if
                     isinstance(r.get(k), (int, float))), None)
        ref = next((r[k] for k in ("ms_ref", "ms_sklearn", "time_ref", "time_sklearn",
                                   "seconds_ref", "sklearn_fit_s") if
                    isinstance(r.get(k), (int, float))), None)
        if ours and ref:
            # the size column already names alpha (amax/10); raw floats only clutter
            label = " ".join(str(r[k]) for k in _KEY_COLS
                             if k in r and k not in ("alpha", "threads"))
            pts.append((label, ref / ours))
    if not pts:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 0.3 * len(pts) + 1.2))
    ax.barh(range(len(pts)), [p[1] for p in pts], color="tab:green")
    ax.axvline(1, color="grey", lw=0.8, ls="--")
    ax.set_yticks(range(len(pts)), [p[0] for p in pts], fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("scikit-learn time / fastprox time")
    ax.set_title("Linear models: fit time vs scikit-learn")
    return "lasso_vs_sklearn.png"
