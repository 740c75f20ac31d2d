#!/usr/bin/env python
"""Distributed KerasTuner search on this machine: one chief and N workers on 127.0.0.1.

    python tuning/distributed.py --workers 2 --timeout 1800 -- \
        --data DATA_DIR --out DIR --tuner bayesian --max-trials 8 --epochs 2

Everything after ``--`` is passed to ``actiongen tune`` in every process (``--out`` is
required there). Logs: ``DIR/logs/{chief,tuner0,...}.log``. See tuning/README.md.
"""

import argparse
import sys

from actiongen_keras.tuning.distributed import run_distributed


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    tune_args = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds; every process is stopped after it")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, help="default: a free port")
    p.add_argument("--threads", type=int, help="TensorFlow threads per process")
    args = p.parse_args(own)
    t = argparse.ArgumentParser(add_help=False)
    t.add_argument("--out", required=True)
    targs, rest = t.parse_known_args(tune_args)
    res = run_distributed(rest, targs.out, workers=args.workers, timeout=args.timeout, host=args.host, port=args.port,
                          threads=args.threads)
    print(f"{len(res['results'])} trial(s) in {res['seconds']:.0f} s; return codes {res['returncodes']}"
          + ("; TIMED OUT" if res["timed_out"] else "") + ("; partial results" if res["partial"] else ""))
    for row in res["results"]:
        print(f"  trial {row['trial_id']}: {row['status']} on {row['worker']}, val_skill {row.get('val_skill', '')}")
    ok = not res["timed_out"] and all(rc == 0 for rc in res["returncodes"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
