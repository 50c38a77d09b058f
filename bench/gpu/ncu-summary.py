#!/usr/bin/env python3
"""Folds an Nsight Compute CSV (--csv --metrics gpu__time_duration.sum --print-units base) by kernel.

Usage: ncu-summary.py NCU_CSV SEQUENCES  ->  a markdown section on stdout.

Kernels are grouped by function name (template arguments and parameters dropped) and, for the top
entries, by their full name too (the template arguments say which quantisation or tile a matrix
kernel ran with). Times are ncu's serialised per-kernel durations: their sum is the GPU's busy time
with no gaps between kernels, a floor for a step, to set against the measured step time.
"""
import csv
import re
import sys
from collections import defaultdict


def base_name(full: str) -> str:
    name = re.sub(r"^void\s+", "", full)
    for stop in ("<", "("):
        at = name.find(stop)
        if at > 0:
            name = name[:at]
    return name


def main() -> None:
    path, sequences = sys.argv[1], sys.argv[2]
    with open(path, newline="") as f:
        rows = [line for line in f if line.startswith('"')]
    reader = csv.DictReader(rows)
    by_base = defaultdict(lambda: [0, 0.0])
    by_full = defaultdict(lambda: [0, 0.0])
    total_ns = 0.0
    kernels = 0
    for row in reader:
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        try:
            ns = float(row["Metric Value"].replace(",", ""))
        except ValueError:
            continue
        full = row["Kernel Name"]
        for table, key in ((by_base, base_name(full)), (by_full, full)):
            table[key][0] += 1
            table[key][1] += ns
        total_ns += ns
        kernels += 1
    print(f"### {sequences} sequence(s): {kernels} kernels, {total_ns / 1e6:.2f} ms of kernel time\n")
    if kernels == 0:
        print("(no kernel rows: see the ncu log)\n")
        return
    print("| kernel | launches | total ms | share | mean us |")
    print("|---|---|---|---|---|")
    for name, (n, ns) in sorted(by_base.items(), key=lambda kv: -kv[1][1])[:25]:
        print(f"| `{name}` | {n} | {ns / 1e6:.3f} | {100 * ns / total_ns:.1f}% | {ns / n / 1e3:.1f} |")
    print("\nTop kernels with their template arguments:\n")
    print("| kernel | launches | total ms | share | mean us |")
    print("|---|---|---|---|---|")
    for name, (n, ns) in sorted(by_full.items(), key=lambda kv: -kv[1][1])[:12]:
        short = name if len(name) <= 160 else name[:157] + "..."
        print(f"| `{short}` | {n} | {ns / 1e6:.3f} | {100 * ns / total_ns:.1f}% | {ns / n / 1e3:.1f} |")
    print()


if __name__ == "__main__":
    main()
