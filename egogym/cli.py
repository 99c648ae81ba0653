"""The `egogym` command: one entry point, one subcommand per job.

Each subcommand lives in the module that owns the job and exposes two functions:
`add_arguments(parser)` and `run(args) -> int` (the exit code). Modules are imported
only when their subcommand runs, so `egogym validate` never imports torch.
Errors a user can fix print as one line (`egogym: error: ...`) and exit with code 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from egogym.core.errors import UserError

# (name, first argument) -> module: a command whose sources are handled by different modules
ROUTES: dict[tuple[str, str], str] = {("convert", "egomimic"): "egogym.data.egomimic"}

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "collect": ("egogym.pipelines.collect", "record scripted robot (or simulated human) episodes to HDF5"),
    "convert": ("egogym.data.aria", "convert Aria recordings (convert aria) or EgoMimic's HDF5 files (convert egomimic)"),
    "export": ("egogym.data.lerobot", "write an HDF5 file as a LeRobotDataset v3.0 folder (export lerobot)"),
    "import": ("egogym.data.lerobot", "read a LeRobotDataset v3.0 folder into an HDF5 file (import lerobot)"),
    "split": ("egogym.data.commands", "write disjoint train/valid masks into an HDF5 file"),
    "validate": ("egogym.data.commands", "check an HDF5 file against the schema"),
    "inspect": ("egogym.data.inspect", "print the tree, save an image, plot action distributions"),
    "stats": ("egogym.data.commands", "compute per-domain normalization statistics from the train split"),
    "train": ("egogym.policies.train", "train ACT / EgoMimic policies"),
    "eval": ("egogym.eval.run", "evaluate a policy in sim or on the real robot"),
    "serve": ("egogym.policies.serve", "serve a checkpoint in openpi's websocket protocol (eval --policy ws://HOST:PORT)"),
    "ablate": ("egogym.eval.ablation", "run a human-vs-robot data ablation grid"),
    "compare": ("egogym.eval.compare", "compare sim and real evaluations (Pearson r, MMRV)"),
    "quickstart": ("egogym.eval.quickstart", "small end-to-end run: data, training, evaluation, report"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="egogym", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_) in COMMANDS.items():
        sub.add_parser(name, help=help_, add_help=False)
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0
    name = argv[0]
    if name not in COMMANDS:
        parser.parse_args(argv[:1])  # argparse prints the one-line error with the choices
        return 2
    module_name, help_ = COMMANDS[name]
    module_name = ROUTES.get((name, argv[1] if len(argv) > 1 else ""), module_name)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and (e.name == module_name or module_name.startswith(e.name + ".")):
            print(f"egogym: error: '{name}' is not available in this version ({module_name} is missing)", file=sys.stderr)
            return 2
        print(f"egogym: error: '{name}' needs the package {e.name!r}: pip install -e '.[train]' (see README)",
              file=sys.stderr)
        return 2
    cmd = argparse.ArgumentParser(prog=f"egogym {name}", description=help_)
    if hasattr(module, "add_arguments_for"):
        module.add_arguments_for(name, cmd)
    else:
        module.add_arguments(cmd)
    try:
        # inside the try: a flag's type (`egogym.core.bounds.int_flag`) raises UserError while parsing
        args = cmd.parse_args(argv[1:])
        args.command = name
        return int(module.run(args) or 0)
    except UserError as e:
        print(f"egogym {name}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"egogym {name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
