"""The ``rlrep`` console script.

Examples::

    rlrep train --env PongNoFrameskip-v4 --aux rcrl --steps 100000 --seed 0
    rlrep train --env dmc-state:cartpole-swingup --aux rcrl,curl --steps 20000
    rlrep train --run-dir runs/pong --resume          # continue a killed run
    rlrep eval runs/pong --episodes 10
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rlrep.auxiliary import parse_aux
from rlrep.checkpoints import checkpoints_newest_first, is_damage
from rlrep.config import AGENT_DEFAULTED, TrainConfig, atari_options, check_device, resolved_options
from rlrep.envs import UnknownEnvError, parse_env_id
from rlrep.envs.atari import is_atari_id
from shared.checkpoint import CorruptFileError, read_json
from shared.run_dir import RunDirError


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _add_train_args(p: argparse.ArgumentParser) -> None:
    d = TrainConfig(env="PongNoFrameskip-v4")
    p.add_argument("--env", help="PongNoFrameskip-v4 | dmc:<domain>-<task> | dmc-state:<domain>-<task>")
    p.add_argument("--aux", default=d.aux, help="none | rcrl | curl | rcrl,curl (default: none)")
    # default None: --resume keeps the run's own budget unless --steps is given (in any spelling)
    p.add_argument("--steps", type=int, default=None,
                   help=f"agent steps (default: {d.steps}); Atari-100k is 100k agent steps (400k "
                        f"frames), while DMC-100k counts environment steps: 100000 / action "
                        f"repeat agent steps (cartpole 12500, cheetah 25000, walker 50000)")
    p.add_argument("--seed", type=int, default=d.seed, help="run seed (default %(default)s)")
    p.add_argument("--run-dir", help="run directory (default: runs/<env>-<aux>-s<seed>-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir from its latest checkpoint")
    p.add_argument("--checkpoint-freq", type=int, default=d.checkpoint_freq,
                   help="agent steps between checkpoints (default %(default)s); a resume "
                        "retrains the steps after the latest one")
    p.add_argument("--keep-checkpoints", type=int, default=d.keep_checkpoints,
                   help="checkpoints kept, the older ones as fallbacks (default %(default)s)")
    p.add_argument("--eval-freq", type=int, default=d.eval_freq,
                   help="agent steps between evaluations (default %(default)s)")
    p.add_argument("--eval-episodes", type=int, default=d.eval_episodes,
                   help="episodes per periodic evaluation (default %(default)s; 0: none)")
    p.add_argument("--final-eval-episodes", type=int, default=d.final_eval_episodes,
                   help="episodes of the final evaluation (default %(default)s)")
    p.add_argument("--eval-epsilon", type=float, default=d.eval_epsilon,
                   help="Atari: random-action probability in evaluation (default %(default)s)")
    p.add_argument("--threads", type=int, default=d.threads, help="torch threads (default 1)")
    # default None: a new run takes TrainConfig's ("auto"), --resume keeps the run's own
    p.add_argument("--device", default=None,
                   help=f"{d.device} (default: CUDA when present) | cpu | cuda | cuda:<i>")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    p.add_argument("--no-tensorboard", dest="tensorboard", action="store_false",
                   help="no TensorBoard logs under <run-dir>/tb")
    agent = "default: the agent's for the env family; table in rlrep/README.md"
    p.add_argument("--batch-size", type=int, help=f"RL batch size ({agent})")
    p.add_argument("--buffer-size", type=int, help=f"replay buffer transitions ({agent})")
    p.add_argument("--learning-starts", type=int, help=f"steps before the first update ({agent})")
    p.add_argument("--learning-rate", type=float, help=f"Adam learning rate ({agent})")
    p.add_argument("--n-steps", type=int, help="multi-step return (Atari; default 20)")
    p.add_argument("--action-repeat", type=int, help="DMC action repeat (default per domain; Atari: fixed at 4)")
    p.add_argument("--rcrl-weight", type=float, default=d.rcrl_weight,
                   help="RCRL loss weight (default %(default)s)")
    p.add_argument("--rcrl-partners", choices=["batch", "extra"], default=d.rcrl_partners,
                   help="RCRL pairs: halves of the RL batch, or extra sampled rows "
                        "(default %(default)s)")
    p.add_argument("--rcrl-embed-dim", type=int, default=d.rcrl_embed_dim,
                   help="RCRL (state, action) embedding size (default %(default)s)")
    p.add_argument("--curl-weight", type=float, default=d.curl_weight,
                   help="CURL loss weight (default %(default)s)")
    p.add_argument("--curl-momentum", type=float,
                   help=f"CURL key-encoder EMA rate ({agent})")
    p.add_argument("--segment-max-length", type=int, default=d.segment_max_length,
                   help="RCRL: transitions after which a segment closes anyway "
                        "(default %(default)s)")
    p.add_argument("--segment-threshold", type=float, help="DMC: |summed reward| closing a segment")
    p.add_argument("--augment", choices=["auto", "on", "off"], default=d.augment,
                   help="Atari: random-shift the RL batch; auto (default): on iff CURL is on; pass "
                        "'on' to every arm to compare arms with and without CURL under one augmentation")
    p.add_argument("--adam-eps", type=float,
                   help="Atari: Adam epsilon (default 1.5e-5, the committed runs'; DER's is 1.5e-4)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rlrep", description="RCRL / CURL auxiliary losses in SB3 agents")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train_args(sub.add_parser("train", help="train an agent (resumable)"))
    ev = sub.add_parser("eval", help="evaluate a run's latest checkpoint")
    ev.add_argument("run_dir")
    ev.add_argument("--episodes", type=_positive_int, default=10)
    ev.add_argument("--seed", type=int, default=12345)
    ev.add_argument("--device", default="auto", help="auto (CUDA when present) | cpu | cuda | cuda:<i>")
    return parser


#: options a resumed run may change: where and how it runs, its budget; not what it trains
RESUMABLE_CHANGES = ("run_dir", "steps", "device", "threads", "progress", "tensorboard")


def _given(argv: list[str]) -> dict:
    """The ``train`` options written on the command line (defaults left out)."""
    p = argparse.ArgumentParser(add_help=False)
    _add_train_args(p)
    for action in p._actions:
        action.default = argparse.SUPPRESS
    return vars(p.parse_known_args(argv)[0])


def _changed_on_resume(given: dict, stored: dict) -> list[str]:
    """``--flag: stored -> given`` for each training option ``given`` changes."""
    def same(key: str, old, new) -> bool:
        if key == "aux":  # any spelling of the same losses
            try:
                return parse_aux(old) == parse_aux(new)
            except ValueError:
                return False
        if key == "augment" and is_atari_id(stored.get("env", "")):
            # what it amounts to (--augment on with CURL = auto)
            return atari_options(stored) == atari_options({**stored, key: new})
        if key in AGENT_DEFAULTED:  # an agent default restated (--segment-threshold 4.0 on DMC)
            try:
                return resolved({**stored, key: new})[key] == resolved(stored)[key]
            except (ValueError, UnknownEnvError):  # refused now: named when the run is built
                pass
        return old == new

    def resolved(options: dict) -> dict:
        return resolved_options(TrainConfig.from_dict({**options, "device": "auto"}))

    def shown(key: str) -> str:
        """The stored value; an agent default named with its value (not ``None``)."""
        old = stored.get(key)
        if old is None and key in AGENT_DEFAULTED:
            try:
                return f"the agent's default {resolved(stored)[key]!r}"
            except (ValueError, UnknownEnvError):
                pass
        return repr(old)

    # a run written before an option existed ran with its default
    stored = {**TrainConfig(env="PongNoFrameskip-v4").to_dict(), **stored}
    return [f"--{k.replace('_', '-')}: {shown(k)} -> {v!r}" for k, v in given.items()
            if k not in RESUMABLE_CHANGES and k != "resume" and not same(k, stored.get(k), v)]


def _refuse_cuda_without_cuda(device: str, parser: argparse.ArgumentParser) -> None:
    """Stop with a usage error when ``device`` asks for CUDA on a machine without it (not in
    :func:`~rlrep.config.check_device`: stored configs naming cuda load on CPU machines)."""
    import torch as th

    if device.startswith("cuda") and not th.cuda.is_available():
        parser.error(f"--device {device}: this machine has no CUDA device; pass --device cpu (or auto)")


def _read_config(path: Path, parser: argparse.ArgumentParser) -> dict:
    fix = "restore it from a copy, or train a new run in another --run-dir"
    try:  # written when the run starts: deleting it would lose the run's options
        stored = read_json(path, fix=fix, expect=dict)
    except CorruptFileError as error:
        parser.error(str(error))
    # options a run stored where they did nothing (refused for new runs since): dropped, so
    # the run still resumes and evaluates as it trained
    if is_atari_id(str(stored.get("env", ""))):
        stored["segment_threshold"] = None
    elif stored.get("env"):
        stored["n_steps"] = None
    try:  # a field missing or of the wrong type would fail later as a raw TypeError
        TrainConfig.from_dict({**stored, "device": "auto"})  # a resume or eval picks the device
    except TypeError as error:
        parser.error(f"{path} does not hold a run's options ({type(error).__name__}: {error}); {fix}")
    except (ValueError, UnknownEnvError):
        pass  # a setting refused since: named when the run is built, with what may change
    return stored


def _valid(options: dict) -> bool:
    """Whether ``options`` (a run's stored config) make a valid run."""
    try:
        TrainConfig.from_dict({**options, "device": "auto"})
    except (UnknownEnvError, ValueError, TypeError):
        return False
    return True


def _train(args: argparse.Namespace, parser: argparse.ArgumentParser,
           argv: list[str] | None = None) -> int:
    from rlrep.training import train

    options = {k: v for k, v in vars(args).items() if k not in ("command", "resume")}
    raw = list(sys.argv[1:] if argv is None else argv)
    given = _given(raw[raw.index("train") + 1:] if "train" in raw else raw)
    if options["steps"] is None:
        options["steps"] = TrainConfig(env="PongNoFrameskip-v4").steps
    if options["device"] is None:
        del options["device"]
    stored_options = None  # a resumed run's config.json, as stored
    if args.resume:
        if not args.run_dir:
            parser.error("--resume needs --run-dir")
        saved = Path(args.run_dir) / "config.json"
        if not saved.exists() and checkpoints_newest_first(saved.parent / "checkpoints"):
            # resumed from the given options and the defaults, it would train on with others
            parser.error(f"--resume: {saved} is missing, yet {saved.parent} holds checkpoints: "
                         f"restore config.json from a copy (the run's options are not all in "
                         f"the checkpoints), or train a new run in another --run-dir")
        if saved.exists():  # the saved options win; only RESUMABLE_CHANGES may change
            stored = _read_config(saved, parser)
            stored_options = dict(stored)
            changed = _changed_on_resume(given, stored)
            if changed:
                parser.error(f"--resume continues {saved.parent} with its own training options, but "
                             f"{'; '.join(changed)}: drop them, or train a new run in another --run-dir")
            stored.update(run_dir=args.run_dir, steps=stored["steps"] if args.steps is None else args.steps)
            if args.device is not None:
                stored["device"] = args.device
            stored.update({k: given[k] for k in ("threads", "progress", "tensorboard") if k in given})
            options = stored
        elif not options.get("env"):
            parser.error(f"--resume: {saved.parent} holds no run (no config.json); check "
                         f"--run-dir, or start a run there with --env and without --resume")
    if not options.get("env"):
        parser.error("--env is required (e.g. --env PongNoFrameskip-v4, dmc:cartpole-swingup, dmc-state:cartpole-swingup)")
    try:
        parse_aux(options["aux"])
        parse_env_id(options["env"], options.get("action_repeat"))
        config = TrainConfig.from_dict(options)
    except (UnknownEnvError, ValueError) as error:
        if stored_options is not None and not _valid(stored_options):
            # the run's own options are at fault (the flag named may not be given on --resume)
            parser.error(f"{Path(args.run_dir) / 'config.json'} (the run's options): {error}")
        parser.error(str(error))
    for loss in ("rcrl", "curl"):  # settings of a loss the run does not train: a typo?
        unused = [f"--{k.replace('_', '-')}" for k in given if k.startswith(f"{loss}_")]
        if unused and loss not in config.aux_names:
            parser.error(f"{', '.join(unused)} set {loss.upper()}, which --aux {config.aux!r} "
                         f"does not train: add {loss} to --aux or drop them")
    _refuse_cuda_without_cuda(config.device, parser)
    learning_starts = resolved_options(config)["learning_starts"]
    if learning_starts >= config.steps:
        named = ("--learning-starts" if config.learning_starts is not None
                 else "the agent's default learning start")
        print(f"rlrep: warning: {named} ({learning_starts}) >= --steps {config.steps}: "
              f"the agent will not update", file=sys.stderr)
    try:
        results = train(config, resume=args.resume)
    except (RunDirError, CorruptFileError) as error:
        parser.error(str(error))
    except MemoryError as error:  # numpy allocates the replay buffer up front
        parser.error(f"out of memory building or training the run ({type(error).__name__}: "
                     f"{error}): lower --buffer-size (the replay buffer is allocated whole at "
                     f"the start)")
    except KeyboardInterrupt:  # checkpoints are atomic: the last one stands
        print(f"\nrlrep: interrupted; {_resume_point(config)}; continue with: rlrep train "
              f"--run-dir {config.run_dir} --resume", file=sys.stderr)
        return 130
    print(json.dumps(results, indent=2))
    return 0


def _resume_point(config: TrainConfig) -> str:
    """Where ``--resume`` will continue an interrupted run from, in words."""
    found = checkpoints_newest_first(Path(config.run_dir) / "checkpoints")
    if not found:
        return (f"no checkpoint was written yet (one every --checkpoint-freq "
                f"{config.checkpoint_freq} steps), so a resume starts over")
    return f"the latest checkpoint is {found[0].name}: a resume retrains the steps after it"


def _eval(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import torch as th

    from rlrep.checkpoints import latest_checkpoint
    from rlrep.config import model_class
    from rlrep.evaluate import evaluate

    th.set_num_threads(1)
    try:
        check_device(args.device)
    except ValueError as error:
        parser.error(str(error))
    _refuse_cuda_without_cuda(args.device, parser)
    if not 0 <= args.seed < 2**32:
        parser.error(f"--seed must be in [0, 2**32), got {args.seed}")
    run_dir = Path(args.run_dir)
    if not (run_dir / "config.json").exists():
        parser.error(f"{run_dir} is not a run directory (no config.json)")
    try:  # evaluation runs on its own --device
        config = TrainConfig.from_dict({**_read_config(run_dir / "config.json", parser),
                                        "device": args.device})
    except (ValueError, UnknownEnvError) as error:
        parser.error(f"{run_dir / 'config.json'}: {error}")
    checkpoint = latest_checkpoint(run_dir / "checkpoints")
    if checkpoint is None:
        parser.error(f"{run_dir} has no checkpoint yet")
    try:
        model = model_class(config).load(checkpoint / "model.zip", device=args.device)
    except Exception as error:
        if not is_damage(error):
            raise
        parser.error(f"cannot load {checkpoint / 'model.zip'} ({type(error).__name__}: {error}): "
                     f"the file is damaged; delete {checkpoint} to evaluate the checkpoint before it")
    returns = evaluate(model, config.env_spec, args.episodes, seed=args.seed, epsilon=config.eval_epsilon)
    out: dict = {"checkpoint": str(checkpoint), "returns": returns, "mean_return": sum(returns) / len(returns)}
    if config.env_spec.is_atari:  # as train's results.json reports it
        from rlrep.evaluate import atari_game, human_normalized

        out["human_normalized_score"] = human_normalized(atari_game(config.env), out["mean_return"])
    print(json.dumps(out, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "train":
        return _train(args, parser, argv)
    return _eval(args, parser)


if __name__ == "__main__":
    sys.exit(main())
