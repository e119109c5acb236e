"""The randomized fault explorer (issue 21): seeded episodes of the real task core against
the simulator over HTTP, faults drawn at every step, invariants checked after each.

`python -m tests.explore --seed N` replays one episode; `--episodes K` runs K seeds.
CI runs a fixed budget (test_explore.py); `python -m bench.bench_explore` runs thousands.
"""
