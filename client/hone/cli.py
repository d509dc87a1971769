"""The `hone` command: studies and trials from the shell, and `hone run` to tune any program.

hone create mnist --space study.yaml --seed 7
hone create mnist-2027 --space space.yaml --from mnist --top 10 --region
hone export mnist > mnist.ndjson; hone --url http://other:8000 import mnist < mnist.ndjson
hone run mnist -n 50 -j 4 -- python train.py --lr {lr} --beta {beta}
hone best mnist
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._exceptions import HoneError, NotFound, ObjectiveFailed
from ._optimize import DEFAULT_MAX_FAILURES
from ._optuna import from_optuna
from ._progress import Progress, brief
from ._runner import Command, Interrupted, placeholders
from ._version import __version__
from .client import Client
from .models import TrialState
from .space import read_document, space_to_list
from .study import Study

Handler = Callable[[Client, argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 an error, 2 bad usage, 130 interrupted)."""
    words = list(sys.argv[1:] if argv is None else argv)
    # Everything after `--` is the command `hone run` runs, braces and dashes included.
    command = words[words.index("--") + 1 :] if "--" in words else []
    words = words[: words.index("--")] if "--" in words else words
    parser = build_parser()
    args = parser.parse_args(words)
    if command and args.handler is not run:
        parser.error("only `hone run` takes a command after --")
    args.command = command
    logging.getLogger("hone.optimize").setLevel(logging.ERROR)  # the progress lines report failed trials
    try:
        with Client(args.url, args.token) as client:
            status: int = args.handler(client, args)
            return status
    except HoneError as exc:
        print(f"hone: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `hone trials NAME | head`: the reader left; say nothing more, not even at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


# -- the commands -----------------------------------------------------------------------------


def studies(client: Client, args: argparse.Namespace) -> int:
    infos = client.studies()
    if args.json:
        for info in infos:
            print(json.dumps(info.data))
        return 0
    rows = [
        [i.name, i.direction, i.state, i.counts.get("complete", 0), i.counts.get("total", 0),
         "" if i.best is None else f"{i.best.value:.6g}"]
        for i in infos
    ]  # fmt: skip
    print_table(["NAME", "DIRECTION", "STATE", "COMPLETE", "TOTAL", "BEST"], rows)
    return 0


def show(client: Client, args: argparse.Namespace) -> int:
    print_json(client.study(args.name).info().data)
    return 0


def create(client: Client, args: argparse.Namespace) -> int:
    warm_start = None
    given = {"top": args.top, "region_share": args.region_share, "out_of_bounds": args.out_of_bounds}
    if args.warm_from is not None:
        warm_start = {"from": args.warm_from, "region": args.region}
        warm_start.update({key: value for key, value in given.items() if value is not None})
    elif args.region or any(value is not None for value in given.values()):
        print("hone: error: --top, --region, --region-share and --out-of-bounds go with --from OLD", file=sys.stderr)
        return 2
    study = client.study(args.name, warm_start=warm_start, **study_body(args))
    print_json(study.info().data)
    return 0


def export(client: Client, args: argparse.Namespace) -> int:
    client.study(args.name).export(sys.stdout.buffer)
    sys.stdout.buffer.flush()
    return 0


def import_(client: Client, args: argparse.Namespace) -> int:
    if args.from_optuna is None:
        print_json(client.import_study(args.name, sys.stdin.buffer).info().data)
        return 0
    try:
        export = from_optuna(*args.from_optuna)
    except (RuntimeError, ValueError) as exc:
        print(f"hone: error: {exc}", file=sys.stderr)
        return 1
    print_json(client.import_study(args.name, export.lines).info().data)
    for reason, count in export.skipped.items():
        if count:
            print(f"hone: left out {count} Optuna trial(s): {reason}", file=sys.stderr)
    return 0


def delete(client: Client, args: argparse.Namespace) -> int:
    client.study(args.name).delete()
    return 0


def best(client: Client, args: argparse.Namespace) -> int:
    trial = client.study(args.name).best
    if trial is None:
        print(f"hone: study {args.name!r} has no complete trial yet", file=sys.stderr)
        return 1
    print_json(trial.data)
    return 0


def importance(client: Client, args: argparse.Namespace) -> int:
    answer = client.study(args.name).importance()
    if args.json:
        print_json(answer.data)
        return 0
    rows = [[p["param"], f"{p['importance']:.3f}", f"{p['score']:.3g} ± {p['std']:.2g}"] for p in answer.data["params"]]
    print_table(["PARAM", "IMPORTANCE", "R2 DROP"], rows)
    sample = " (a random sample)" if answer.sampled else ""
    print(f"from {answer.trials} of {answer.complete} complete trials{sample}: {answer.method}")
    return 0


def trials(client: Client, args: argparse.Namespace) -> int:
    study = client.study(args.name)
    if args.csv:
        study.to_csv(sys.stdout, state=args.state)
        return 0
    listed = study.trials(state=args.state)
    if args.json:
        for trial in listed:
            print(json.dumps(trial.data))
        return 0
    rows = [
        [t.number, t.state, "" if t.value is None else f"{t.value:.6g}",
         " ".join(f"{k}={v}" for k, v in t.params.items()), brief(t.error)]
        for t in listed
    ]  # fmt: skip
    print_table(["NUMBER", "STATE", "VALUE", "PARAMS", "ERROR"], rows)
    return 0


def ask(client: Client, args: argparse.Namespace) -> int:
    for trial in client.study(args.name).ask(args.count, lease_seconds=args.lease_seconds):
        print(json.dumps(trial.record.data))
    return 0


def tell(client: Client, args: argparse.Namespace) -> int:
    study = client.study(args.name)
    if args.failed is not None:
        told = study.fail(args.trial_id, args.failed or None)
    elif args.pruned:
        told = study.prune(args.trial_id, args.value)
    elif args.value is not None:
        told = study.tell(args.trial_id, args.value)
    else:
        print("hone: error: give a VALUE, --failed [MESSAGE] or [VALUE] --pruned", file=sys.stderr)
        return 2
    print_json(told.data)
    return 0


def run(client: Client, args: argparse.Namespace) -> int:
    if not args.command:
        print("hone: error: give the command to run after --, e.g. -- python train.py --lr {lr}", file=sys.stderr)
        return 2
    if args.space is None and any(value is not None for value in spec_options(args).values()):
        print("hone: error: the study options describe a study to create: give its --space too", file=sys.stderr)
        return 2
    try:
        study = client.study(args.name, **study_body(args))
    except NotFound as exc:
        if exc.code != "study_not_found":
            raise
        print(
            f"hone: error: there is no study {args.name!r}. Create it first with `hone create {args.name} --space "
            f"study.yaml`, or give `hone run` its --space (a file of params, or a whole study: direction, space, "
            "sampler)",
            file=sys.stderr,
        )
        return 1
    unknown = unknown_placeholders(args.command, study)
    if unknown:
        print(unknown, file=sys.stderr)
        return 2
    stopped: ObjectiveFailed | None = None
    with tempfile.TemporaryDirectory(prefix="hone-run-") as scratch:
        logs = args.logs or Path(scratch)
        logs.mkdir(parents=True, exist_ok=True)
        command = Command(args.command, study.name, logs)
        progress = Progress(args.n_trials, lambda: command.running, sys.stderr)
        # Ctrl-C and SIGTERM stop the commands; the trials they ran are then told failed.
        previous = {
            signum: signal.signal(signum, lambda signum, frame: command.stop(signal.Signals(signum).name))
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            study.optimize(
                command,
                args.n_trials,
                n_workers=args.jobs,
                timeout=args.timeout,
                max_failures=args.max_failures or None,
                callbacks=[progress.told],
                show_progress=False,  # `progress` also prints a line per trial where there is no terminal
            )
        except Interrupted:
            pass  # every trial it reached was told failed on the way out
        except ObjectiveFailed as exc:
            stopped = exc
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    if command.stopped_by:
        progress.finish(f"stopped by {command.stopped_by}: ")
        return 130
    progress.finish()
    if stopped is not None:
        print(
            f"hone: error: stopped after {stopped.failures} failed trials in a row; the last, trial {stopped.number}: "
            f"{brief(str(stopped.error))}\n(see each trial's error with `hone trials {study.name}`; --max-failures "
            "sets how many failures in a row stop the run, 0 never)",
            file=sys.stderr,
        )
        return 1
    ran = sum(progress.counts.values())
    return 1 if ran and not progress.counts[TrialState.COMPLETE] else 0


# -- output -----------------------------------------------------------------------------------


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))


def print_table(headers: list[str], rows: list[list[Any]]) -> None:
    cells = [headers, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


# -- arguments --------------------------------------------------------------------------------


def unknown_placeholders(argv: Sequence[str], study: Study) -> str | None:
    """Why the command cannot run, if one of its `{name}` placeholders is not a param of the study."""
    names = [param["name"] for param in study.info().space]
    unknown = [name for name in placeholders(argv) if name not in names]
    if not unknown:
        return None
    return (
        f"hone: error: the command names {', '.join('{' + n + '}' for n in unknown)}, which the study "
        f"{study.name!r} does not have; its params are {', '.join(names)}"
    )


STUDY_OPTIONS = ("direction", "sampler", "seed", "metadata", "max_retries", "lease_seconds", "pruner")


def spec_options(args: argparse.Namespace) -> dict[str, Any]:
    """The study options given as flags (None where not given)."""
    return {name: getattr(args, name, None) for name in STUDY_OPTIONS}


def study_body(args: argparse.Namespace) -> dict[str, Any]:
    """`space` and options for Client.study: the --space file's, then the flags, which win."""
    flags = {name: value for name, value in spec_options(args).items() if value is not None}
    return {"space": None, **(args.space or {}), **flags}


def space_file(path: str) -> dict[str, Any]:
    """A file holding a list of params (or a mapping by name), or a whole study body: `space` and options."""
    try:
        document = read_document(path)
        if isinstance(document, dict) and isinstance(document.get("space"), (list, dict)):
            space_param = isinstance(document["space"], dict) and "type" in document["space"]
            if not space_param:  # not a mapping by name with a param called `space`
                unknown = sorted(set(document) - {"space", *STUDY_OPTIONS})
                if unknown:
                    raise ValueError(f"unknown study fields {unknown}; a study has space, {', '.join(STUDY_OPTIONS)}")
                return {**document, "space": space_to_list(document["space"])}
        return {"space": space_to_list(document)}
    except (OSError, ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(f"cannot read a space from {path}: {exc}") from exc


def json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def sampler(text: str) -> str | dict[str, Any]:
    return json_object(text) if text.lstrip().startswith("{") else text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hone", description="Hone from the shell: studies, trials, and `hone run`.")
    parser.add_argument("--version", action="version", version=f"hone-client {__version__}")
    parser.add_argument("--url", help="the server (default $HONE_URL, else http://127.0.0.1:8000)")
    parser.add_argument("--token", help="API token, sent as a Bearer token (default $HONE_TOKEN)")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    spec = argparse.ArgumentParser(add_help=False)
    spec.add_argument("--direction", choices=["minimize", "maximize"], help="default minimize")
    spec.add_argument("--sampler", type=sampler, help='a sampler name, or a JSON object: \'{"name": "random"}\'')
    spec.add_argument("--seed", type=int, help="fixes every trial's configuration (default: drawn by the server)")
    spec.add_argument("--metadata", type=json_object, help="a JSON object stored with the study")
    spec.add_argument("--max-retries", type=int, help="times an expired trial's configuration is offered again")
    spec.add_argument("--lease-seconds", type=float, help="how long a trial may run without a heartbeat")

    def command(name: str, handler: Handler, help: str, parents: Sequence[argparse.ArgumentParser] = ()) -> Any:
        sub = commands.add_parser(name, help=help, description=help, parents=list(parents))
        sub.set_defaults(handler=handler)
        if name != "studies":
            sub.add_argument("name", metavar="NAME", help="the study")
        return sub

    listing = command("studies", studies, "list the studies with their counts and best value")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    command("show", show, "print a study: spec, counts, best trial")
    created = command("create", create, "create a study, or check that it exists with this spec", [spec])
    created.add_argument(
        "--space", type=space_file, required=True, help="a JSON or YAML file: a list of params, or a whole study"
    )
    warm = created.add_argument_group("warm start: re-tune from an earlier study")
    warm.add_argument("--from", dest="warm_from", metavar="OLD", help="hand out OLD's best configurations first")
    warm.add_argument("--top", type=int, help="how many of OLD's best configurations (default 10)")
    warm.add_argument(
        "--region", action="store_true", help="also queue configurations inside OLD's final region (a share of level 0)"
    )
    warm.add_argument("--region-share", type=float, help="that share (default 0.25)")
    warm.add_argument("--out-of-bounds", choices=["clip", "skip"], help="a value outside the new space (default clip)")
    command("export", export, "write the whole study to stdout as NDJSON: hone export NAME > study.ndjson")
    imports = command("import", import_, "create study NAME from an export on stdin: hone import NAME < study.ndjson")
    imports.add_argument(
        "--from-optuna",
        nargs=2,
        metavar=("STORAGE_URL", "STUDY"),
        help="bring an Optuna study's finished trials in instead (needs hone-client[optuna])",
    )
    command("delete", delete, "delete a study and all its trials")
    command("best", best, "print the best complete trial")
    ranked = command("importance", importance, "which params matter for the objective, most important first")
    ranked.add_argument("--json", action="store_true", help="the answer as JSON")
    listed = command("trials", trials, "list the trials")
    listed.add_argument("--state", help="only these states, comma-separated: running,complete,failed,pruned,expired")
    as_what = listed.add_mutually_exclusive_group()
    as_what.add_argument("--csv", action="store_true", help="CSV with one column per param")
    as_what.add_argument("--json", action="store_true", help="one JSON object per line")
    asked = command("ask", ask, "ask for trials; prints one JSON object per trial")
    asked.add_argument("-n", "--count", type=int, default=1, help="how many trials (default 1)")
    asked.add_argument("--lease-seconds", type=float, help="tell within this long (default: the study's lease)")
    told = command("tell", tell, "tell a trial's result: VALUE, --failed [MESSAGE] or [VALUE] --pruned")
    told.add_argument("trial_id", metavar="ID", help="the trial's id, as `hone ask` printed it")
    told.add_argument("value", metavar="VALUE", type=float, nargs="?", help="the objective's value")
    outcome = told.add_mutually_exclusive_group()
    outcome.add_argument("--failed", metavar="MESSAGE", nargs="?", const="", help="the trial failed")
    outcome.add_argument("--pruned", action="store_true", help="the trial was stopped early (VALUE: its last value)")
    runs = command("run", run, "run a command per trial: hone run NAME -n 50 -j 4 -- python train.py --lr {lr}", [spec])
    runs.add_argument("-n", "--n-trials", type=int, help="trials to run (default: until stopped)")
    runs.add_argument("-j", "--jobs", type=int, default=1, help="commands at once (default 1)")
    runs.add_argument("--timeout", type=float, help="start no trial after this many seconds")
    runs.add_argument(
        "--space", type=space_file, help="create the study if it does not exist: a file of params, or a whole study"
    )
    runs.add_argument(
        "--max-failures",
        type=int,
        default=DEFAULT_MAX_FAILURES,
        help=f"stop after this many failed trials in a row (default {DEFAULT_MAX_FAILURES}; 0: never)",
    )
    runs.add_argument("--logs", type=Path, help="keep each trial's stdout and stderr here (NUMBER.out, NUMBER.err)")
    return parser
