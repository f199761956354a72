"""`kerasgan experiment PLAN`: run a grid of configurations, then write its table and sheet.

    kerasgan experiment experiments/dcgan_cats_ablation.toml --data-dir ../shared/data/grumpifyCat
    kerasgan experiment plan.toml --set steps=300 --set width=16 --out /tmp/ablation
    kerasgan experiment plan.toml --dry-run          # the cells and their status, nothing trains
    kerasgan experiment plan.toml --report-only      # table and sheet of the finished cells

The plan format and the outputs are described in kerasgan/experiment.py. Run the same
command again after a crash or a kill: finished cells are skipped, an interrupted one
resumes from its checkpoint.

`--devices 0,1` runs the cells on several GPUs at once: one worker process per device
(CUDA_VISIBLE_DEVICES set to it), each taking every n-th cell in plan order; the report is
written when all workers are done. Without it the cells run one after the other here.
"""

import argparse
import os
import subprocess
import sys

from kerasgan.commands import common as cli
from kerasgan.errors import UserError


def build_parser(prog="kerasgan experiment"):
    parser = cli.ArgumentParser(prog=prog,
                                description="Run every cell of a TOML plan (skipping finished ones, "
                                            "resuming interrupted ones) and write results.csv, results.md, "
                                            "sheet.png and TensorBoard HParams.")
    parser.add_argument("plan", help="the plan file (TOML; see kerasgan/experiment.py and experiments/)")
    parser.add_argument("--out", help="the experiment's folder (default: beside the plan, named after it)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a [base] option for every cell (or seeds=[0, 1]); repeatable, "
                             "e.g. --set steps=200 --set data_dir=../shared/data/grumpifyCat")
    parser.add_argument("--data-dir", "--data_dir", dest="data_dir",
                        help="the same as --set data_dir=DIR")
    parser.add_argument("--dry-run", action="store_true", help="list the cells and their status; train nothing")
    parser.add_argument("--report-only", action="store_true",
                        help="write the table, sheet and HParams of the finished cells; train nothing")
    parser.add_argument("--devices", help="GPUs to run cells on in parallel, e.g. 0,1 (one cell per device)")
    # "I/N": internal, what --devices starts: run every N-th cell from the I-th, no report.
    parser.add_argument("--worker", help=argparse.SUPPRESS, default=None)
    return parser


def log(message):
    print(message, flush=True)


def main(argv=None, prog="kerasgan experiment"):
    from kerasgan import experiment

    args = build_parser(prog).parse_args(argv)
    overrides = list(args.overrides) + ([f"data_dir={args.data_dir}"] if args.data_dir else [])
    plan = experiment.read_plan(args.plan, overrides, args.out)
    if args.dry_run:
        log(f"{plan.path}: {len(plan.cells)} runs in {plan.runs_dir}")
        for line in experiment.describe_cells(plan):
            log("  " + line)
        return plan
    if args.report_only:
        experiment.build_report(plan, log)
        return plan
    if args.worker:
        index, count = (int(part) for part in args.worker.split("/"))
        experiment.check_fid(plan, log=lambda line: None if index else log(line))
        experiment.run_experiment(plan, log, cells=plan.cells[index::count], report=False)
        return plan
    experiment.check_fid(plan, log)
    if args.devices:
        run_on_devices(args, [d.strip() for d in args.devices.split(",") if d.strip()])
        experiment.build_report(plan, log)
    else:
        experiment.run_experiment(plan, log)
    return plan


def run_on_devices(args, devices):
    """One worker per device, each running every len(devices)-th cell; waits for all."""
    if not devices:
        raise UserError("--devices: give device numbers, e.g. --devices 0,1")
    base = [sys.executable, "-m", "kerasgan", "experiment", args.plan]
    for item in args.overrides:
        base += ["--set", item]
    if args.data_dir:
        base += ["--data-dir", args.data_dir]
    if args.out:
        base += ["--out", args.out]
    workers = []
    for index, device in enumerate(devices):
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": device}
        command = base + ["--worker", f"{index}/{len(devices)}"]
        log(f"device {device}: worker {index + 1}/{len(devices)}")
        workers.append(subprocess.Popen(command, env=env))
    codes = [worker.wait() for worker in workers]
    failed = [devices[i] for i, code in enumerate(codes) if code != 0]
    if failed:
        raise UserError(f"the workers on device(s) {', '.join(failed)} failed (see their output above); "
                        "run the same command again to continue")

