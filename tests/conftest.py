"""Suite-wide settings: one torch thread (oversubscribed threads run 10-20x slower on the 2-core
machines this project is tested on), headless rendering, and the benchmark data directory."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def load_experiment(name: str):
    """The script ``experiments/<name>.py`` as a module (experiments/ is not a package)."""
    module = f"experiments_{name}"  # not to shadow a top-level module of that name
    spec = importlib.util.spec_from_file_location(module, REPO / "experiments" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[module] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod

torch.set_num_threads(1)
os.environ.setdefault("MUJOCO_GL", "egl")
# Raw datasets: ../shared/data next to the checkout unless GRAPHREP_DATA says otherwise.
os.environ.setdefault("GRAPHREP_DATA", str(REPO.parent / "shared" / "data"))


@pytest.fixture(autouse=True, scope="session")
def _sb3_logs_in_pytest_tmp(tmp_path_factory):
    """SB3 makes a fresh /tmp/SB3-<time> folder for every model built without a log folder;
    point them all at one folder under pytest's temporary directory instead."""
    old = os.environ.get("SB3_LOGDIR")
    os.environ["SB3_LOGDIR"] = str(tmp_path_factory.mktemp("sb3_logs"))
    yield
    if old is None:
        os.environ.pop("SB3_LOGDIR", None)
    else:
        os.environ["SB3_LOGDIR"] = old


#: set (``.ci/run`` does) to make any skipped test fail the run: a missing ffmpeg, dataset
#: or optional package must not let CI go green on fewer tests than it claims
FAIL_ON_SKIP_ENV = "CONTRASTIVE_FAIL_ON_SKIP"


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get(FAIL_ON_SKIP_ENV) != "1" or exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped:
        reporter.write_line(f"\n{len(skipped)} test(s) skipped while {FAIL_ON_SKIP_ENV}=1: "
                            "failing the run (reasons in the summary)", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
