"""Command line: `python -m workers.simulator --port 8700 --speed 1.0 [--seed N] [--api-key K]`."""

from __future__ import annotations

import argparse

import uvicorn

from workers.providers.simulation.engine import SimConfig
from workers.simulator.app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m workers.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--speed", type=float, default=1.0, help="multiplies every dwell time")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--api-key", default=SimConfig().api_key)
    args = parser.parse_args(argv)
    config = SimConfig(speed=args.speed, seed=args.seed, api_key=args.api_key)
    # Stalled answers (read_timeout_rate) must not hold a shutdown for stall_s.
    uvicorn.run(create_app(config=config), host=args.host, port=args.port, timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
