"""Global-local demo over training-set sizes and schedules, scored on validation clips.

Runs :func:`shared.bridge.demos.global_local.run` with ``validation=True`` (fresh clips,
seed + 2000; the test clips are not used) for every ``n_train x epochs x seed`` and writes
``experiments/results/bridge_global_local_sweep.{jsonl,md}``. Finished cells are kept
(re-running resumes). One CPU thread; about 25 minutes for the default grid.

``--distractor`` picks the clips' silent square (:func:`shared.bridge.synthetic.audio_visual_clips`):
``class`` (another class's colour; session 4's sweep, rows without the key) or ``neutral``
(a non-class colour, so class retrieval has one right answer; session 5).

``--separate-encoders`` gives each pathway its own encoders
(``global_local.run(shared_encoders=False)``: the terms meet only in the attention); its
cells are stored apart and labelled "<distractor>, separate encoders".

``--extra-arm global+local_detached`` adds the ablation where the local term's gradient does
not reach the audio-guided attention (:data:`~shared.bridge.demos.global_local.ARM_WEIGHTS`);
cells already run get only the missing arm (every arm is seeded on its own, so the merged row
equals a run of all arms at once).

Usage::

    python experiments/bridge_global_local_sweep.py --distractor class
    python experiments/bridge_global_local_sweep.py --distractor neutral
    python experiments/bridge_global_local_sweep.py --distractor neutral --n-train 768 \
        --epochs 20 --extra-arm global+local_detached
    python experiments/bridge_global_local_sweep.py --distractor neutral --n-train 768 \
        --epochs 20 --separate-encoders     # and --distractor class: ~8 min for both
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from shared.bridge.demos import global_local  # noqa: E402
from shared.checkpoint import atomic_write_text

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
ARMS = global_local.PAPER_ARMS
KEYS = ("class_a2v_r1", "frame_alignment", "localisation")


def _markdown(rows: list[dict]) -> str:
    cells: dict[tuple[str, int, int], list[dict]] = defaultdict(list)
    for r in rows:
        cells[(_design(r), r["n_train"], r["epochs"])].append(r)
    lines = [
        "# Global-local: sizes and schedules (validation clips)",
        "",
        "`python experiments/bridge_global_local_sweep.py`; per cell the mean over seeds",
        "(per-seed class R@1 in brackets); claim = both terms >= global alone on class R@1",
        "and >= local alone on frame alignment, checked per seed. `distractor`: the silent",
        "square has another class's colour (`class`: class retrieval has two equally good",
        "answers) or a non-class colour (`neutral`: one answer). Rows after the paper's three",
        "arms are ablations (`--extra-arm`; claim column `-`), listed once every seed has them.",
        "\"separate encoders\": each pathway its own encoders (`--separate-encoders`).",
        "",
        "| distractor | clips | epochs | seeds | claim holds | arm | class R@1 | frame alignment "
        "| localisation |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (d, n, e), runs in sorted(cells.items()):
        holds = f"{sum(r['claim'] for r in runs)}/{len(runs)}"
        extra = sorted({a for r in runs for a in r["metrics"]} - set(ARMS))
        for arm in (*ARMS, *extra):
            have = [r for r in runs if arm in r["metrics"]]
            if len(have) < len(runs):
                continue  # an extra arm on only some seeds of the cell: listed once complete
            m = {k: [r["metrics"][arm][k] for r in runs] for k in KEYS}
            per_seed = " ".join(f"{v:.2f}" for v in m["class_a2v_r1"])
            # the claim compares the paper's three arms; an ablation arm has no count of its own
            lines.append(
                f"| {d} | {n} | {e} | {len(runs)} | {holds if arm in ARMS else '-'} | {arm} | "
                f"{sum(m['class_a2v_r1']) / len(runs):.3f} [{per_seed}] | "
                f"{sum(m['frame_alignment']) / len(runs):.3f} | "
                f"{sum(m['localisation']) / len(runs):.3f} |"
            )
    return "\n".join(lines) + "\n"


def _write_jsonl(path: str, rows: list[dict]) -> None:
    """Rewrite the results file atomically (rows may have gained an arm)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    os.replace(tmp, path)


def _distractor(row: dict) -> str:
    return row.get("distractor", "class")  # session 4's rows predate the option


def _shared(row: dict) -> bool:
    return row.get("shared_encoders", True)  # rows before the option shared them


def _design(row: dict) -> str:
    """The report's first column: the distractor, and the encoders when separate."""
    return _distractor(row) + ("" if _shared(row) else ", separate encoders")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, nargs="+", default=[256, 768])
    parser.add_argument("--epochs", type=int, nargs="+", default=[12, 20, 40])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--distractor", choices=("class", "neutral"), default="neutral")
    parser.add_argument("--extra-arm", choices=sorted(set(global_local.ARM_WEIGHTS) - set(ARMS)),
                        default=None, help="an ablation arm run beside the paper's three")
    parser.add_argument("--separate-encoders", action="store_true",
                        help="each pathway its own encoders (run(shared_encoders=False))")
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    shared = not args.separate_encoders
    torch.set_num_threads(1)
    path = os.path.join(args.out, "bridge_global_local_sweep.jsonl")
    rows = [json.loads(line) for line in open(path)] if os.path.exists(path) else []
    done = {(_distractor(r), _shared(r), r["n_train"], r["epochs"], r["seed"]): r
            for r in rows}
    arms = (*ARMS, args.extra_arm) if args.extra_arm else ARMS
    for n in args.n_train:
        for e in args.epochs:
            for s in args.seeds:
                old = done.get((args.distractor, shared, n, e, s))
                if old is not None and (args.extra_arm is None
                                        or args.extra_arm in old["metrics"]):
                    continue
                missing = arms if old is None else (args.extra_arm,)
                res = global_local.run(seed=s, epochs=e, n_train=n, validation=True,
                                       distractor=args.distractor, arms=missing,
                                       shared_encoders=shared)
                metrics = {a: {k: res["metrics"][a][k] for k in KEYS} for a in missing}
                if old is None:
                    rows.append({"distractor": args.distractor,
                                 **({} if shared else {"shared_encoders": False}),
                                 "n_train": n, "epochs": e,
                                 "seed": s, "claim": res["claim_holds"], "metrics": metrics,
                                 "seconds": res["seconds"]})
                    # a value repeated on the command line (--seeds 0 0) is done now
                    done[(args.distractor, shared, n, e, s)] = rows[-1]
                else:
                    old["metrics"].update(metrics)
                    old["seconds"] = round(old.get("seconds", 0.0) + res["seconds"], 1)
                _write_jsonl(path, rows)
                label = args.distractor + ("" if shared else ", separate encoders")
                print(f"[sweep] {label}: {n} clips, {e} epochs, seed {s}: "
                      f"{'claim ' + str(res['claim_holds']) if old is None else args.extra_arm}",
                      flush=True)
    atomic_write_text(os.path.join(args.out, "bridge_global_local_sweep.md"), _markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
