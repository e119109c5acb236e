"""`python -m bench.readme`: run every benchmark (as `python -m bench` does, printing each
table) and write their figures into docs/performance.md, between the two `bench:figures` markers.

`python -m bench.readme lifecycle ack` runs only those and replaces only their tables.
"""

from __future__ import annotations

import os
import platform
import re
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from bench.__main__ import BENCHES, pick, run

FIGURES = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
BEGIN, END = "<!-- bench:figures begin -->", "<!-- bench:figures end -->"
TABLE = re.compile(r"<!-- bench:(?P<name>[\w-]+) -->\n(?P<body>.*?)<!-- /bench -->\n", re.S)


def table(name: str) -> str | None:
    """One benchmark in its own process; its Markdown, or None if it failed."""
    with tempfile.NamedTemporaryFile("r", suffix=".md", encoding="utf-8") as markdown:
        started = time.monotonic()
        ok = run(name, {**os.environ, "BENCH_MARKDOWN": markdown.name})
        body = markdown.read()
    if not ok or not body:
        return None
    return f"{body}\n*{machine()}, {time.monotonic() - started:.0f} s.*\n\n"


def machine() -> str:
    return (
        f"{date.today().isoformat()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.system()} {platform.machine()}"
    )


def rewrite(text: str, tables: dict[str, str]) -> str:
    """The page with these tables replaced (or added at the end of the figures)."""
    head, rest = text.split(BEGIN, 1)
    figures, tail = rest.split(END, 1)
    kept = {m["name"]: m["body"] for m in TABLE.finditer(figures)}
    kept.update(tables)
    order = [name for name in BENCHES if name in kept]
    blocks = "".join(f"<!-- bench:{name} -->\n{kept[name]}<!-- /bench -->\n" for name in order)
    return f"{head}{BEGIN}\n{blocks}{END}{tail}"


def main(names: list[str]) -> int:
    chosen = pick(names)
    if chosen is None:
        return 2
    tables = {name: body for name in chosen if (body := table(name)) is not None}
    failed = [name for name in chosen if name not in tables]
    FIGURES.write_text(rewrite(FIGURES.read_text(encoding="utf-8"), tables), encoding="utf-8")
    print(f"\ndocs/performance.md: {len(tables)} table(s) written; failed: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
