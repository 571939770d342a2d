"""Fact memory, measured: retrieval on LoCoMo, knowledge updates, speed, and the near threshold.

    .venv/bin/python bench/facts.py [--data PATH] [--json OUT] [--sweep]    retrieval on LoCoMo
    .venv/bin/python bench/facts.py --updates [--subjects 1000] [--near-threshold X] [--json OUT]
    .venv/bin/python bench/facts.py --speed [--facts 10000 100000] [--json OUT]
    .venv/bin/python bench/facts.py --near [--json OUT]

Retrieval: each conversation's `observation` entries become free facts (subject: the speaker,
valid at the session's date, evidence: the observation's turns) in a scope of their own; each
question (adversarial ones left out) runs `FactMemory.search` and is scored against its evidence
turns as bench/locomo.py scores turns: a fact retrieves the turns it cites. The same questions
run over the turns (`search_archival`, as bench/locomo.py) and a BM25 over the observations.
`--sweep` tries other fusions, and a subject filter, on the same facts.

Knowledge updates: a seeded world of people whose single-valued attributes change over the
years and whose many-valued ones grow and are negated, written as slot facts with a share
arriving late; then the current value, the value as of a date, and every value of a
many-valued slot are asked and checked against the world.

Speed: writes per second (one at a time, 100 a write), and search latency at 10,000 and 100,000
facts on embedded Chroma, with the query's embedding timed apart.

Near: cosines (local MiniLM) of two values of one slot, which must stay below `rules.NEAR`, and
of rewordings of one fact, which should reach it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import locomo  # noqa: E402  (bench/locomo.py)
from fact_near import near, print_near  # noqa: E402
from fact_retrieval import print_retrieval, retrieval  # noqa: E402
from fact_speed import speed  # noqa: E402
from fact_updates import print_updates, updates  # noqa: E402

from agent_runtime.facts import rules  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--updates", action="store_true", help="knowledge updates")
    mode.add_argument("--speed", action="store_true", help="writes and search latency")
    mode.add_argument("--near", action="store_true", help="the near-duplicate threshold")
    parser.add_argument("--data", type=Path, default=locomo.DEFAULT_DATA)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--sweep", action="store_true", help="LoCoMo: other fusions as well")
    parser.add_argument("--subjects", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--facts", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--near-threshold",
        type=float,
        help="--updates: run with rules.NEAR set to this (above 1: no near merges), to tell the "
        "threshold's errors from the rules' own",
    )
    args = parser.parse_args()
    if not args.data.exists() and not args.updates:
        raise SystemExit(f"no data at {args.data}; pass --data PATH")
    if args.near_threshold is not None:
        rules.NEAR = args.near_threshold  # read at each comparison (facts/store.py)
    if args.updates:
        out = updates(args.subjects, args.seed)
        print_updates(out)
    elif args.speed:
        out = speed(args.facts, args.seed, args.queries, args.data)
    elif args.near:
        out = near(args.subjects, args.seed, args.data)
        print_near(out)
    else:
        out = retrieval(args.data, args.sweep)
        print_retrieval(out)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
