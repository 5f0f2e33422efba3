"""Description of the machine a benchmark ran on, for its printed header and its JSON.

CPU model, caches, memory, the fastprox build (ISA level, OpenMP), the BLAS and
OpenMP thread pools, library versions, the environment variables that change
what a run measures, and the load average. Imported by ``_common`` (which
re-exports :func:`machine_info`, :func:`describe` and
:func:`describe_bandwidth`); imports fastprox only inside functions.
"""
import os
import platform
import socket
import sys

import numpy as np

# Environment variables that change what a run measures; recorded verbatim.
_ENV_KEYS = ("OMP_NUM_THREADS", "OMP_PROC_BIND", "OMP_PLACES", "OPENBLAS_NUM_THREADS",
             "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "MKL_NUM_THREADS", "FASTPROX_SIMD",
             "PYTHONPATH")


def _cpuinfo():
    model, flags = None, []
    cores = set()
    try:
        with open("/proc/cpuinfo") as f:
            phys = core = None
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "model name" and model is None:
                    model = value
                elif key == "flags" and not flags:
                    flags = value.split()
                elif key == "physical id":
                    phys = value
                elif key == "core id":
                    core = value
                elif not key and core is not None:
                    cores.add((phys, core))
                    phys = core = None
            if core is not None:
                cores.add((phys, core))
    except OSError:
        pass
    return model or platform.processor() or platform.machine(), flags, len(cores) or None


def _caches():
    out = {}
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for entry in sorted(os.listdir(base)):
            if not entry.startswith("index"):
                continue
            d = os.path.join(base, entry)
            with open(os.path.join(d, "level")) as f:
                level = f.read().strip()
            with open(os.path.join(d, "type")) as f:
                kind = f.read().strip()
            with open(os.path.join(d, "size")) as f:
                size = f.read().strip()
            name = f"L{level}" + {"Data": "d", "Instruction": "i"}.get(kind, "")
            out[name] = size
    except OSError:
        pass
    return out


def _mem_total():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return None


def machine_info():
    """Everything about the machine and the libraries that a result depends on."""
    import scipy
    import threadpoolctl
    from fastprox import _config

    model, flags, physical = _cpuinfo()
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    isa = [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl",
                       "avx512_bf16", "amx_tile") if f in flags]
    pools = []
    for info in threadpoolctl.threadpool_info():
        pools.append({k: info.get(k) for k in ("user_api", "internal_api", "prefix", "version",
                                                 "architecture", "threading_layer",
                                                 "num_threads", "filepath")})
    return {
        "host": socket.gethostname(),
        "cpu_model": model,
        "logical_cpus": os.cpu_count(),
        "physical_cores": physical,
        "affinity_cpus": affinity,
        "isa_flags": isa,
        "caches": _caches(),
        "memory": _mem_total(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "threadpoolctl": threadpoolctl.__version__,
        "fastprox": _config.config(),
        "threadpools": pools,
        "env": {k: os.environ[k] for k in _ENV_KEYS if k in os.environ},
        "loadavg": _loadavg(),
    }


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def describe_bandwidth(bw):
    """One line per thread count: the triad bandwidth used for ``% bw``."""
    lines = []
    for n, b in sorted(bw.items()):
        lines.append(f"bandwidth   {n} thread{'s' if n > 1 else ' '}: {b['gbps']:6.1f} GB/s "
                     f"median, {b['gbps_best']:6.1f} best  ({b['kernel']}, n={b['n']:.0e}, "
                     "24 B/elt)" + (f"; start of run {b['start']:.1f}, end {b['end']:.1f}"
                                    if "start" in b else ""))
    return "\n".join(lines)


def describe(machine, bw=None):
    """A few header lines describing the machine and the measured bandwidth."""
    fp = machine["fastprox"]
    blas = [p for p in machine["threadpools"] if p["user_api"] == "blas"]
    blas_txt = ", ".join(f"{p['internal_api']} {p['version']} ({p['architecture']}, "
                         f"{p['num_threads']} threads)" for p in blas) or "none found"
    caches = " ".join(f"{k} {v}" for k, v in machine["caches"].items())
    lines = [
        f"host        {machine['host']}: {machine['cpu_model']}, "
        f"{machine['physical_cores']} cores / {machine['logical_cpus']} logical "
        f"({machine['affinity_cpus']} usable), {machine['memory']}",
        f"caches      {caches or 'unknown'}; ISA {' '.join(machine['isa_flags'])}",
        f"fastprox    {fp['fastprox']}, kernels {fp['simd_level']} "
        f"(supported: {', '.join(fp['simd_supported'])}), "
        f"openmp {'yes' if fp['openmp'] else 'NO'}",
        f"libraries   python {machine['python']}, numpy {machine['numpy']}, "
        f"scipy {machine['scipy']}; BLAS {blas_txt}",
    ]
    env = " ".join(f"{k}={v}" for k, v in machine["env"].items() if k != "PYTHONPATH")
    if env:
        lines.append(f"env         {env}")
    load = machine.get("loadavg")
    if load is not None:
        busy = load[0] > 0.5 * (machine["affinity_cpus"] or machine["logical_cpus"] or 1)
        lines.append(f"load        {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min)"
                     + ("  WARNING: other processes are running; multi-thread timings suffer"
                        if busy else ""))
    if bw:
        lines += describe_bandwidth(bw).splitlines()
    for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if k in machine["env"]:
            lines.append(f"WARNING     {k} is set: OpenBLAS may run a slower kernel; "
                         f"run with `env -u {k}`")
    return "\n".join(lines)
