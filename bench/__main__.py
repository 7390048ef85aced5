"""`python -m bench`: the benchmarks (measured, never asserted; not part of the test suite).

    python -m bench [--quick] [--customers 200] [--database URL] [--only order_flow ...]

order_flow (N customers at once through the real Dispatcher, with aiogram's echo as the
baseline in the same run), status_sync at 10,000 and 100,000 active orders, and memory (peak
RSS of the process that synced 100,000 orders). Human-readable lines, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
from typing import Any

from bench.order_flow import print_flow, run_order_flow
from bench.status_sync import in_child, print_sync

SCENARIOS = ("order_flow", "status_sync", "memory")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            names = [line.split(":", 1)[1].strip() for line in info if "model name" in line]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


async def run(args: argparse.Namespace) -> dict[str, Any]:
    only = set(args.only or SCENARIOS)
    customers = args.customers or (30 if args.quick else 200)
    sizes = [1_000] if args.quick else [10_000, 100_000]
    figures: dict[str, Any] = {"machine": machine(), "database": args.database or "sqlite"}
    print(figures["machine"])
    if "order_flow" in only:
        flow = await run_order_flow(customers, args.database)
        print_flow(flow)
        figures["order_flow"] = flow.as_dict()
    if only & {"status_sync", "memory"}:
        figures["status_sync"] = []
        for size in sizes:
            result = await in_child(size, args.database)
            print_sync(result)
            figures["status_sync"].append(result)
        largest = figures["status_sync"][-1]
        figures["memory"] = {
            "orders": largest["orders"], "peak_rss_mb": largest.get("peak_rss_mb")
        }  # fmt: skip
        print(f"memory: peak RSS {largest.get('peak_rss_mb')} MB with {largest['orders']} orders")
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument("--customers", type=int, help="order_flow customers (default 200)")
    parser.add_argument("--database", help="a database URL (default: a temporary SQLite file)")
    parser.add_argument("--only", nargs="*", choices=SCENARIOS)
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
