"""``python -m tests.bench.serve FACTORY --port P --workers N``: serve a level-2 app the way
``python -m service serve`` does (service.serving: one TCP socket shared by the workers).

``service.serving`` is imported when serving, not with this module: each worker process
re-imports this module (multiprocessing's spawn), and importing the service there would
charge every worker the service's start-up, whichever app it serves."""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.serve")
    parser.add_argument("app", help="import string of an app factory")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    from service import serving

    serving.run(args.app, host="127.0.0.1", port=args.port, workers=args.workers)


if __name__ == "__main__":
    main()
