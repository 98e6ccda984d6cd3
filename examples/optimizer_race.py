"""Optimizers racing on test surfaces with one shared learning rate; optionally the animated GIF.

Run:  python examples/optimizer_race.py [race.gif]
"""

from __future__ import annotations

import sys

from symnn import optviz


def main(out: str | None = None) -> None:
    for surface in ("beale", "saddle"):
        rates = optviz.learning_rates(surface)
        race = optviz.run_race(surface)
        print(optviz.table(optviz.summary(race, surface, rates), surface))
        print()
    if out:
        optviz.race("saddle", out=out)
        print(f"drew {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
