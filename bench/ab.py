"""A change against the code before it, on a machine whose speed drifts: both at once.

    .venv/bin/python -m bench.ab <git revision> [--rounds 2] [--activations 80]

Checks the revision out in a temporary git worktree, then runs ``python -m bench.inprocess``
(app and floor alternating, one process) for the revision and for this checkout at the same
time, each pinned to a core of its own (``taskset``), then swapped, ``--rounds`` times. Each
run's ratio app/floor is the figure: the floor is the same code in both, so it cancels the
speed of the core and of the moment. Prints every run, then the mean ratio of each side.
Needs two cores; nothing else should run.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^activation\s+([\d.]+)\s+([\d.]+)\s+ratio ([\d.]+)", re.M)


def _start(tree: Path, core: int, activations: int) -> subprocess.Popen:
    command = ["taskset", "-c", str(core), sys.executable, "-m", "bench.inprocess"]
    command += ["--activations", str(activations), "--renders", "5"]
    return subprocess.Popen(
        command, cwd=tree, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )


def _ratio(proc: subprocess.Popen) -> tuple[float, float, float]:
    out, _ = proc.communicate()
    found = LINE.search(out)
    if proc.returncode or not found:
        raise SystemExit(f"bench.inprocess failed (exit {proc.returncode}):\n{out[-2000:]}")
    app, floor, ratio = (float(x) for x in found.groups())
    return app, floor, ratio


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ab")
    p.add_argument("revision", help="the code to compare this checkout with (e.g. HEAD~3)")
    p.add_argument("--rounds", type=int, default=2, help="each round: both orders of cores")
    p.add_argument("--activations", type=int, default=80)
    a = p.parse_args(argv)
    ratios: dict[str, list[float]] = {a.revision: [], "this checkout": []}
    with tempfile.TemporaryDirectory(prefix="ent-idp-ab-") as tmp:
        old = Path(tmp) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "-q", "--detach", old, a.revision], cwd=ROOT, check=True
        )
        try:
            for _ in range(a.rounds):
                for old_core, new_core in ((0, 1), (1, 0)):
                    runs = {
                        a.revision: (_start(old, old_core, a.activations), old_core),
                        "this checkout": (_start(ROOT, new_core, a.activations), new_core),
                    }
                    for name, (proc, core) in runs.items():
                        app, floor, ratio = _ratio(proc)
                        ratios[name].append(ratio)
                        print(f"{name:>16} core {core}: app {app:6.2f} ms  "
                              f"floor {floor:6.2f} ms  ratio {ratio:.2f}")  # fmt: skip
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", old], cwd=ROOT, check=False)
    for name, found in ratios.items():
        print(f"{name:>16}: ratio app/floor mean {statistics.mean(found):.2f} "
              f"({min(found):.2f}–{max(found):.2f}, {len(found)} runs)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
