"""Run the benchmarks: every bench/bench_*.py module's main(), or the ones named.

    .venv/bin/python bench/run.py            # all
    .venv/bin/python bench/run.py import api # bench_import.py and bench_api.py

Each benchmark measures the product against a baseline in the same run and prints ratios
(absolute times depend on the machine; ratios are what bench/README.md records). Results are
also written to bench/out/. Set DATABASE_URL to run them on PostgreSQL.
"""

import importlib.util
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(HERE.parent))
    wanted = {name.removeprefix("bench_") for name in argv}
    paths = [p for p in sorted(HERE.glob("bench_*.py")) if not wanted or p.stem.removeprefix("bench_") in wanted]
    if not paths:
        print(f"No benchmark matches {sorted(wanted)}; available: {[p.stem for p in HERE.glob('bench_*.py')]}")
        return 2
    (HERE / "out").mkdir(exist_ok=True)
    for path in paths:
        print(f"=== {path.stem}")
        started = time.perf_counter()
        load(path).main()
        print(f"=== {path.stem} finished in {time.perf_counter() - started:.1f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
