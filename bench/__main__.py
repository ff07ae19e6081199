"""Run every benchmark module in this package (`make bench`), each via its `main()`."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench


def main() -> int:
    only = set(sys.argv[1:])
    for module_info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_") or (only and module_info.name not in only):
            continue
        module = importlib.import_module(f"bench.{module_info.name}")
        print(f"== bench.{module_info.name}", flush=True)
        module.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
