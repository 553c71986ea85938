"""Atari-100k learning check: evaluation scores, human-normalised scores and learning curves.

Reads ``rlrep train`` run directories (finished or still running), copies their small files
(``config.json``, ``metrics.jsonl``, ``results.json``) under ``<out>/rl_atari_runs/<name>/``,
and writes ``<out>/rl_atari.md``, ``<out>/rl_atari.csv`` and ``<out>/rl_atari_curves.png``.
Aggregates across seeds use rliable (IQM, 95% stratified-bootstrap CI) via ``rlrep.statistics``.

    python experiments/rl_atari_table.py /root/rlrep_runs/atari_roadrunner_none_s0 /root/rlrep_runs/atari_roadrunner_rcrl_s0
"""

from __future__ import annotations

import argparse
import csv
import io
from collections import defaultdict
from pathlib import Path

import numpy as np

from rlrep.callbacks import metrics_record_problem
from rlrep.evaluate import SCORES_CSV, atari_game, human_normalized
from rlrep.statistics import iqm_with_ci
from shared.checkpoint import CorruptFileError, atomic_write_text, read_json, read_json_lines


def load_run(run_dir: Path) -> dict:
    config = read_json(run_dir / "config.json", expect=dict)
    evals, episodes = [], []
    # a torn last line (a run still going, or killed mid-write) is left out
    for rec in read_json_lines(run_dir / "metrics.jsonl", check=metrics_record_problem)[0]:
        if rec.get("type") == "eval" and rec["returns"]:  # 0-episode evaluations score nothing
            evals.append((rec["step"], rec["mean_return"], len(rec["returns"])))
        elif rec.get("type") == "episode":
            episodes.append((rec["step"], rec["return"]))
    results_path = run_dir / "results.json"
    results = read_json(results_path, expect=dict) if results_path.exists() else None
    return {"name": run_dir.name, "dir": run_dir, "config": config, "evals": evals,
            "episodes": episodes, "results": results}


def reference_scores(game: str) -> dict[str, float]:
    with SCORES_CSV.open() as f:
        for row in csv.DictReader(f):
            if row["game"] == game:
                return {k: float(v) for k, v in row.items() if k != "game"}
    return {}


#: config.json fields that do not change what a run trains or how its score is measured
#: (where it lives, how often it checkpoints and logs, how many episodes average a score)
#: or that are labelled apart: ``aux`` heads the label, ``augment`` and ``adam_eps`` are
#: compared by what they amount to
_NOT_ARM_OPTIONS = frozenset({"env", "aux", "seed", "run_dir", "checkpoint_freq",
                              "keep_checkpoints", "eval_freq", "eval_episodes",
                              "final_eval_episodes", "threads", "progress", "tensorboard",
                              "device", "augment", "adam_eps"})


def arm_options(config: dict, steps: bool = True) -> str:
    """The options beyond ``--aux`` that set the arm apart: every training option (and the
    evaluation's epsilon, and ``--steps``) that differs from ``rlrep train``'s default, and
    ``--augment`` / ``--adam-eps`` by what they amount to (``--augment on`` with CURL is
    CURL's default, ``--adam-eps 1.5e-5`` the default). Empty for runs that train as the
    defaults do, and for runs written before an option existed (an absent key is its
    default). ``steps=False`` leaves ``--steps`` out (a command line that states it)."""
    from dataclasses import fields

    from rlrep.config import TrainConfig, atari_options

    out = []
    for f in fields(TrainConfig):
        if (f.name in _NOT_ARM_OPTIONS or f.name not in config or config[f.name] == f.default
                or (f.name == "steps" and not steps)):
            continue
        value = config[f.name]
        out.append(f"--{f.name.replace('_', '-')} {value:g}" if isinstance(value, float)
                   else f"--{f.name.replace('_', '-')} {value}")
    shifted, eps = atari_options(config)
    default_shifted, default_eps = atari_options({"aux": config.get("aux", "none")})
    if shifted != default_shifted:
        out.append(f"--augment {'on' if shifted else 'off'}")
    if eps != default_eps:
        out.append(f"--adam-eps {eps:g}")
    return " ".join(out)


def eval_protocol(run: dict) -> str:
    """The Atari evaluation protocol a finished run's score was measured under
    (``results.json``'s ``eval_protocol``); runs written before the key say ``"legacy"``:
    their evaluations did not press FIRE after a lost life. Unfinished runs: ``""``."""
    return (run["results"].get("eval_protocol", "legacy") if run["results"] is not None
            else "")


def summarise(runs: list[dict]) -> tuple[str, list[dict]]:
    rows = []
    # finished runs evaluated under different protocols must not pool into one arm: then
    # each arm's label names its protocol
    mixed = len({eval_protocol(r) for r in runs} - {""}) > 1
    for run in runs:
        protocol = eval_protocol(run) if mixed else ""
        game = atari_game(run["config"]["env"])
        done = run["results"] is not None
        last_step, last_score, n_eps = run["evals"][-1] if run["evals"] else (0, float("nan"), 0)
        # the final evaluation's score, else the last logged one; a run whose final
        # evaluation had 0 episodes has no final score and counts as unfinished here
        final = done and run["results"]["eval_mean_return"] is not None
        score = run["results"]["eval_mean_return"] if final else last_score
        rows.append({
            "run": run["name"], "game": game,
            "aux": " ".join(filter(None, [run["config"]["aux"], arm_options(run["config"]),
                                          protocol and f"[eval: {protocol}]"])),
            "seed": run["config"]["seed"], "finished": final,
            "step": run["results"]["steps"] if final else last_step,
            "eval_return": score, "eval_episodes": len(run["results"]["eval_returns"]) if final else n_eps,
            "human_normalised": None if score != score else human_normalized(game, score),  # NaN: no score
        })
    lines = ["# Atari-100k learning check (rlrep, QR-DQN + DER net)", "",
             "Evaluation: raw game score, no life-loss terminals, epsilon 0.001; the last row of each "
             "unfinished run is its latest periodic evaluation.", "",
             "| run | game | aux | seed | step | finished | eval return | episodes | human-normalised |",
             "|---|---|---|---:|---:|---|---:|---:|---:|"]
    for r in rows:
        hns = "n/a" if r["human_normalised"] is None else f"{r['human_normalised']:.3f}"
        lines.append(f"| {r['run']} | {r['game']} | {r['aux']} | {r['seed']} | {r['step']} | "
                     f"{'yes' if r['finished'] else 'no'} | {r['eval_return']:.1f} | {r['eval_episodes']} | {hns} |")
    lines += ["", "Training commands (from each run's config.json):", ""]
    for run in runs:
        c = run["config"]
        options = " ".join(filter(None, [f"--aux {c['aux']}", arm_options(c, steps=False)]))
        lines.append(f"    rlrep train --env {c['env']} {options} --steps {c['steps']} --seed {c['seed']} "
                     f"--checkpoint-freq {c['checkpoint_freq']} --run-dir <dir>/{run['name']}")
    for game in sorted({r["game"] for r in rows}):
        ref = reference_scores(game)
        if ref:
            lines += ["", f"Reference scores for {game} (CURL paper, Table 2): random {ref['random']:.1f}, "
                      f"human {ref['human']:.1f}, DER {ref['der']:.1f}, CURL {ref['curl']:.1f}, SimPLe {ref['simple']:.1f}."]
    matrices = _score_matrices(rows)
    if matrices:
        est = iqm_with_ci(matrices)
        lines += ["", "IQM of human-normalised scores over finished runs (95% stratified-bootstrap CI, "
                  "resampling runs within each game; one seed gives a degenerate interval):", "",
                  "| aux | runs x games | IQM | 95% CI |", "|---|---:|---:|---|"]
        for arm, e in est.items():
            n, g = matrices[arm].shape
            lines.append(f"| {arm} | {n} x {g} | {e.point:.3f} | [{e.low:.3f}, {e.high:.3f}] |")
    return "\n".join(lines) + "\n", rows


def _score_matrices(rows: list[dict]) -> dict[str, np.ndarray]:
    """Per arm, the ``[runs, games]`` human-normalised scores of finished runs that rliable's
    stratified bootstrap expects (one column per game, resampled within it). Games each
    keep their first ``n`` seeds, ``n`` the fewest any game of the arm has."""
    per: dict[str, dict[str, list[tuple[int, float]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["finished"] and r["human_normalised"] is not None:
            per[r["aux"]][r["game"]].append((r["seed"], r["human_normalised"]))
    out = {}
    for arm, games in per.items():
        n = min(len(v) for v in games.values())
        out[arm] = np.array([[score for _, score in sorted(games[g])[:n]] for g in sorted(games)]).T
    return out


def plot_curves(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for run in runs:
        if run["episodes"]:
            steps, rets = zip(*run["episodes"], strict=True)
            ax.plot(steps, rets, alpha=0.25, lw=0.8)
            color = ax.lines[-1].get_color()
        else:
            color = None
        if run["evals"]:
            s, m, _ = zip(*run["evals"], strict=True)
            ax.plot(s, m, "o-", color=color, label=f"{run['name']} (eval)")
    ax.set_xlabel("agent steps")
    ax.set_ylabel("raw game score (faint: training games; dots: evaluations)")
    ax.legend(fontsize=7)
    ax.set_title("Atari-100k learning curves")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dirs", type=Path, nargs="+")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = p.parse_args()
    missing = [d for d in args.run_dirs if not (d / "config.json").is_file()
               or not (d / "metrics.jsonl").is_file()]
    if missing:
        p.error(f"not rlrep run directories (config.json and metrics.jsonl): "
                f"{', '.join(map(str, missing))}")
    names: dict[str, Path] = {}
    for d in args.run_dirs:  # copied to rl_atari_runs/<name>: one name, one run
        other = names.setdefault(d.name, d)
        if other.resolve() != d.resolve():
            p.error(f"two runs named {d.name!r} ({other}, {d}): their copies under "
                    f"rl_atari_runs/ would overwrite each other; rename one")
    dirs = list({d.resolve(): d for d in args.run_dirs}.values())  # a folder given twice: once
    try:
        runs = [load_run(d) for d in dirs]
    except CorruptFileError as error:
        p.error(str(error))
    for run in runs:
        dest = args.out / "rl_atari_runs" / run["name"]
        if dest.resolve() == run["dir"].resolve():  # rebuilt from the committed copies
            continue
        dest.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "metrics.jsonl", "results.json"):
            if (run["dir"] / name).exists():
                atomic_write_text(dest / name, (run["dir"] / name).read_text())
            elif (dest / name).exists():  # e.g. the run was restarted: no stale finished copy
                (dest / name).unlink()
    md, rows = summarise(runs)
    atomic_write_text(args.out / "rl_atari.md", md + "\n![curves](rl_atari_curves.png)\n")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(args.out / "rl_atari.csv", buf.getvalue())
    plot_curves(runs, args.out / "rl_atari_curves.png")
    print(md)


if __name__ == "__main__":
    main()
