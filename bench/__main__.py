"""`python -m bench`: every benchmark in turn, each printing its table (about 25 minutes;
`python -m bench.readme` also writes their tables into docs/performance.md).

`python -m bench lifecycle delivery` runs only those. Close heavy processes first: the
figures are wall-clock ones on a shared machine.
"""

from __future__ import annotations

import subprocess
import sys
import time

BENCHES = {
    "lifecycle": ["bench.bench_lifecycle"],
    "callbacks": ["bench.bench_callbacks"],
    "scale": ["bench.bench_scale"],
    "scale-pg": ["bench.bench_scale", "--engine", "postgresql"],
    "faults": ["bench.bench_faults"],
    "delivery": ["bench.bench_delivery"],
    "sandbox": ["bench.bench_sandbox"],
    "processes": ["bench.bench_processes"],
    "ack": ["bench.bench_ack"],
    "decode": ["bench.bench_decode"],
}


def pick(names: list[str]) -> list[str] | None:
    """The benchmarks named (all of them if none), or None (said why) if one is unknown."""
    unknown = [name for name in names if name not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHES)}")
        return None
    return names or list(BENCHES)


def run(name: str, env: dict[str, str] | None = None) -> bool:
    """One benchmark in a process of its own, its table printed; whether it exited 0."""
    print(f"\n=== {name} ===", flush=True)
    started = time.monotonic()
    code = subprocess.call([sys.executable, "-m", *BENCHES[name]], env=env)
    print(f"=== {name}: exit {code}, {time.monotonic() - started:.0f} s ===", flush=True)
    return code == 0


def main(names: list[str]) -> int:
    chosen = pick(names)
    if chosen is None:
        return 2
    failed = [name for name in chosen if not run(name)]
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
