"""experiments/mvgrl_bench.sh against the committed runs it writes: each of its graphrep
lines must build the training options its run directory was trained with, or rerunning the
chain (``--resume``) would refuse the run (or, worse, train other options into a new one)
once a package default moves."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "experiments" / "mvgrl_bench.sh"
RUNS = REPO / "experiments" / "results" / "mvgrl_runs"


def bench_lines() -> list[list[str]]:
    """The graphrep command lines the chain runs, its variables and loops expanded by the
    shell itself (``G`` swapped for ``echo``: nothing trains)."""
    text = SCRIPT.read_text().replace('G="python -m graphrep"', 'G="echo GRAPHREP"', 1)
    assert 'G="echo GRAPHREP"' in text, "mvgrl_bench.sh no longer sets G as expected"
    out = subprocess.run(["sh", "-c", text.replace("set -ex", "set -e", 1)], cwd=REPO,
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "GRAPHREP_DATA": "unused"}).stdout
    return [shlex.split(line)[1:] for line in out.splitlines() if line.startswith("GRAPHREP ")]


def test_every_bench_line_builds_the_options_of_its_committed_run():
    from graphrep.cli import _options, build_parser
    from graphrep.experiment import _check_resumable

    checked = 0
    for argv in bench_lines():
        if argv[0] not in ("bench", "train", "eval"):
            continue
        opts = _options(build_parser().parse_args(argv))
        cfg = Path(opts.out_dir) if Path(opts.out_dir).is_absolute() else REPO / opts.out_dir
        cfg = cfg / "config.json"
        if not cfg.is_file():  # a run not committed (e.g. one REDDIT-B seed set)
            continue
        stored = json.loads(cfg.read_text())
        try:
            _check_resumable(stored, opts.to_json(), cfg)
        except ValueError as exc:
            pytest.fail(f"mvgrl_bench.sh: {' '.join(argv)}\n{exc}")
        if opts.seeds and argv[0] != "eval":
            assert set(opts.seeds) <= set(stored["seeds"]), (argv, stored["seeds"])
        checked += 1
    # most lines name a committed run; a parse that found few would check nothing
    assert checked > 100, checked
