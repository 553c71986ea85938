"""Gradient updates per second of the base agents and with RCRL / CURL (one process, one thread).

Atari: QR-DQN with the DER network, batch 32, on PongNoFrameskip-v4 transitions.
DMC: SAC with CURL's pixel encoder, batch 128, on dmc:cartpole-swingup transitions.
The replay buffer is filled with random-policy transitions first; then every variant's
``train()`` is timed in interleaved rounds (so machine-load drift hits all variants alike) and the
median round speed is reported.

    PYTHONPATH=. python experiments/bench_rl_overhead.py [--rounds 5] [--atari-updates 30] [--dmc-updates 4]

Writes experiments/results/rl_overhead.md and rl_overhead.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch as th
from stable_baselines3.common.logger import configure

from rlrep.config import TrainConfig, build_model
from rlrep.envs import make_vec_env
from shared.checkpoint import atomic_write_text

#: TrainConfig options per variant: each agent is built as `rlrep train --aux ...` builds it
#: (until session 16 the heads were swapped into a base agent afterwards, which left the
#: QR-DQN agent's augmentation off in the CURL variants).
VARIANTS = {
    "base": dict(aux="none"),
    "+RCRL": dict(aux="rcrl"),
    "+RCRL (extra partners)": dict(aux="rcrl", rcrl_partners="extra"),
    "+CURL": dict(aux="curl"),
    "+RCRL+CURL": dict(aux="rcrl,curl"),
}
RESULTS = Path(__file__).resolve().parent / "results"


def build(env_id: str, batch_size: int, fill: int, variant: dict) -> object:
    config = TrainConfig(env=env_id, batch_size=batch_size, buffer_size=10_000, learning_starts=fill + 1,
                         tensorboard=False, **variant)
    env = make_vec_env(config.env_spec, seed=0)
    model = build_model(config, env)
    if hasattr(model, "augment"):  # QR-DQN augments only with CURL (SAC crops pixels always)
        assert model.augment == ("curl" in config.aux_names)
    model.learn(fill)  # random-policy transitions only: learning_starts > fill
    model.set_logger(configure(folder=None, format_strings=[]))
    return model


def bench(env_id: str, batch_size: int, fill: int, updates: int, rounds: int) -> dict[str, dict[str, float]]:
    models = {name: build(env_id, batch_size, fill, variant) for name, variant in VARIANTS.items()}
    for model in models.values():
        model.train(gradient_steps=2, batch_size=batch_size)  # warm-up
    speeds: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            start = time.perf_counter()
            model.train(gradient_steps=updates, batch_size=batch_size)
            speeds[name].append(updates / (time.perf_counter() - start))
    base = statistics.median(speeds["base"])
    return {
        name: {"updates_per_s": statistics.median(s), "cost_vs_base": base / statistics.median(s), "rounds": s}
        for name, s in speeds.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--atari-updates", type=int, default=30)
    parser.add_argument("--dmc-updates", type=int, default=4)
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help="folder for rl_overhead.md / .json (default: experiments/results)")
    args = parser.parse_args()
    out = args.out
    th.set_num_threads(1)
    th.manual_seed(0)
    results = {
        "atari (QR-DQN, DER net, batch 32)": bench("PongNoFrameskip-v4", 32, 600, args.atari_updates, args.rounds),
        "dmc pixels (SAC, CURL encoder, batch 128)": bench("dmc:cartpole-swingup", 128, 300, args.dmc_updates, args.rounds),
    }
    recorded = {k: v for k, v in vars(args).items() if k != "out"}
    meta = {"torch": th.__version__, "threads": th.get_num_threads(), "machine": platform.processor() or platform.machine(), "args": recorded}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "rl_overhead.json", json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    lines = [
        "# RCRL / CURL update overhead",
        "",
        "`PYTHONPATH=. python experiments/bench_rl_overhead.py " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in recorded.items()) + "`",
        f"(torch {th.__version__}, 1 thread, CPU; medians of {args.rounds} interleaved rounds; the machine was shared, so",
        "absolute speeds are noisy, the ratios less so). Target: RCRL <= 1.25x the base update.",
        "",
    ]
    for domain, rows in results.items():
        lines += [f"## {domain}", "", "| variant | updates/s | cost vs base |", "|---|---|---|"]
        lines += [f"| {name} | {r['updates_per_s']:.2f} | {r['cost_vs_base']:.2f}x |" for name, r in rows.items()]
        lines.append("")
    atomic_write_text(out / "rl_overhead.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
