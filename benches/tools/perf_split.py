#!/usr/bin/env python3
"""Splits a `perf record --call-graph dwarf` profile of the end-to-end bench by component.

The bench runs the daemon, smpp-sim and its load clients in one process, on shared tokio
workers, so `perf report --sort comm` cannot tell them apart. Each sample is given to the
innermost frame that names one of them (`khabar::`, `smpp_sim`, `end_to_end`); a sample with
none (the runtime, loopback socket writes) is shown as `?` under its thread.

    perf script -i perf.data -F comm,tid,ip,sym > perf.txt
    python3 benches/tools/perf_split.py perf.txt
"""
import collections
import re
import sys

COMPONENTS = [("smpp_sim", "smpp-sim"), ("end_to_end", "bench clients"), ("khabar::", "daemon")]


def samples(path):
    """Yields (thread name, frames from innermost out) for each sample of `perf script`."""
    comm, frames = None, []
    for line in open(path, errors="replace"):
        if not line.strip():
            if comm is not None:
                yield comm, frames
            comm, frames = None, []
        elif not line[0].isspace():
            comm, frames = line.split()[0], []
        else:
            parts = line.strip().split(None, 1)
            if len(parts) > 1:
                frames.append(parts[1])
    if comm is not None:
        yield comm, frames


def main():
    split, total = collections.Counter(), 0
    for comm, frames in samples(sys.argv[1]):
        total += 1
        who = next((name for f in frames for key, name in COMPONENTS if key in f), "?")
        split[(re.sub(r"[-\d]+$", "", comm), who)] += 1
    for (thread, who), n in split.most_common():
        print(f"{100 * n / total:5.1f} %  {thread:<18} {who}")
    print(f"{total} samples")


if __name__ == "__main__":
    main()
