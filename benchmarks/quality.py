"""Benchmark: sample quality of trained runs, as a markdown table for the docs.

Two ways to use it:

* ``--zoo OUT`` trains every configuration genzoo ships (:data:`ZOO`: each model's defaults and
  its main options) on MNIST with ``genzoo train``, one after the other, into ``OUT/<name>``,
  timing each (each in a process of its own; with ``--quick``, a smoke run, all in this one);
  then scores them all. A configuration whose run folder already holds a finished run of the
  same settings is scored without training it again.
* Run folders (their ``checkpoints/last.pt``) or checkpoint files given as arguments are scored
  as they are.

Scoring draws ``-n`` samples and measures FID (with its 95% interval), KID, classifier score,
precision and recall with
:func:`genzoo.metrics.evaluate`; the table ends with the real-data floor (as many real training
images against the test set).

Usage::

    python benchmarks/quality.py --zoo runs/zoo --csv docs/guide/quality.csv \
        --figures docs/_static/models                                           # about an hour
    python benchmarks/quality.py --zoo runs/zoo --only 'dcgan*'
    python benchmarks/quality.py runs/vae runs/gan --data mnist -n 10000
    python benchmarks/quality.py --zoo /tmp/zoo --quick      # a few steps each (CI keeps it working)
    python benchmarks/quality.py --zoo runs/zoo --only 'flow*' --steps 2,4,8 \
        --steps-csv docs/guide/quality_steps.csv      # also: what fewer sampling steps cost

The data comes from ``--data-root`` or ``$GENZOO_DATA``; the classifier from the cache (trained
on first use).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import fnmatch
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Shipped:
    """One configuration genzoo ships, with the training budget it is measured with."""

    name: str
    model: str
    settings: tuple[str, ...]
    epochs: int
    batch_size: int
    #: Runner options of ``genzoo train`` (``--ema 0.999``, ...), beside the model's settings.
    options: tuple[str, ...] = ()
    #: Sampling options it is scored with (``genzoo.load(path, **sampling)``, as ``genzoo sample
    #: --set``): they change nothing in training, so a run trained without them is reused.
    sampling: tuple[str, ...] = ()
    #: Model settings added to a smoke run (``--quick``, a few steps): what would otherwise take
    #: minutes before the first step, such as a student's teacher pairs.
    quick: tuple[str, ...] = ()

    def sampling_overrides(self) -> dict[str, str]:
        """:attr:`sampling` as keyword arguments of :func:`genzoo.load`."""
        return dict(item.split("=", 1) for item in self.sampling)

    def folder(self, zoo: Path) -> Path:
        """Its run folder in the zoo folder ``zoo``."""
        return zoo / self.name.replace(" ", "-")

    def command(self, out: Path, data_root: str | None, max_steps: int | None) -> list[str]:
        """The ``genzoo train`` command line that trains it into ``out``."""
        every = str(max(1, self.epochs // 4))
        command = [sys.executable, "-m", "genzoo", "train", self.model, "--data", "mnist",
                   "--epochs", str(self.epochs), "--batch-size", str(self.batch_size),
                   "--seed", "0", "--device", "cpu", "--grid-every", every,
                   "--checkpoint-every", every, "--no-progress", "--out", str(out)]
        for setting in self.settings:
            command += ["--set", setting]
        command += list(self.options)
        if data_root:
            command += ["--data-root", data_root]
        if max_steps:
            command += ["--max-steps", str(max_steps)]
            for setting in self.quick:
                command += ["--set", setting]
        return command


#: The shipped configurations: each model's defaults, then its main options (the loss, the
#: weight EMA, class conditioning; ``dcgan classic`` turns off both of the DCGAN's non-classic
#: defaults). The MLP GANs and VAEs train for 20 epochs (as ``make demo`` does), the
#: convolutional ones for what fits in 10 minutes on a 2-core CPU.
ZOO = [
    Shipped("gan", "gan", (), 20, 64),
    Shipped("gan ema", "gan", ("ema=0.999",), 20, 64),
    Shipped("gan hinge", "gan", ("loss=hinge",), 20, 64),
    Shipped("gan wgan-gp", "gan", ("loss=wgan-gp",), 20, 64),
    Shipped("gan conditional", "gan", ("num_classes=10",), 20, 64),
    Shipped("vae", "vae", (), 20, 128),
    Shipped("vae conditional", "vae", ("num_classes=10",), 20, 128),
    Shipped("dcgan classic", "dcgan", ("loss=bce", "ema=0"), 8, 64),
    Shipped("dcgan", "dcgan", (), 10, 64),
    Shipped("dcgan conditional", "dcgan", ("num_classes=10",), 12, 64),
    Shipped("conv-vae", "conv-vae", (), 12, 128),
    Shipped("conv-vae conditional", "conv-vae", ("num_classes=10",), 12, 128),
    # The plugin distributions under plugins/ (``make venv`` installs them): class-conditional,
    # sampled with mild classifier-free guidance in a few steps, chosen so that 10,000 samples
    # take under 5 minutes on a 2-core CPU (the flow's steps packed towards the data end).
    Shipped("flow-matching conditional", "flow-matching", ("num_classes=10",), 4, 64,
            ("--ema", "0.999", "--lr-schedule", "cosine", "--warmup-steps", "100"),
            ("sampler=heun", "sample_steps=6", "time_shift=0.7", "guidance=1.25")),
    Shipped("ddpm conditional", "ddpm", ("num_classes=10",), 3, 128,
            ("--ema", "0.999", "--lr-schedule", "cosine", "--warmup-steps", "100"),
            ("sampler=ddim", "sample_steps=10", "guidance=1.25")),
    # The few-step models (genzoo-few-step): a 1-step student of the shipped flow-matching
    # teacher (the teacher's training counts in the student's budget of 30 minutes, pairs
    # included, hence 16,000 pairs rather than the default 20,000), and MeanFlow, one step
    # from scratch in 20 minutes (two epochs of its instantaneous velocity alone, then three
    # of jumps; a smoke run jumps from its first step).
    Shipped("distilled-flow conditional", "distilled-flow", ("num_classes=10", "pairs=16000"), 3,
            64,
            ("--teacher", "pretrained:mnist-flow-matching", "--ema", "0.999", "--lr-schedule",
             "cosine", "--warmup-steps", "50"), quick=("pairs=64", "pair_chunk=32")),
    Shipped("meanflow conditional", "meanflow",
            ("num_classes=10", "guidance=1.25", "flow_epochs=2"), 5, 64,
            ("--ema", "0.999", "--lr-schedule", "cosine", "--warmup-steps", "100"),
            quick=("flow_epochs=0",)),
    # The normalizing flow of the likelihood table (benchmarks/likelihood.py), as trained there.
    Shipped("glow", "glow", (), 4, 64,
            ("--ema", "0.999", "--lr-schedule", "cosine", "--warmup-steps", "200")),
]

#: The marker a finished zoo run leaves in its folder: its configuration and time.
DONE_FILE = "zoo.json"


def checkpoint_of(path: Path) -> Path:
    """A run folder's last checkpoint, or the file itself."""
    if path.is_dir():
        from genzoo.runner import LAST_CHECKPOINT

        return path / LAST_CHECKPOINT
    return path


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _train_here(command: list[str]) -> int:
    """Run the ``python -m genzoo ...`` command line ``command`` in this process, through
    genzoo's command line as ``python -m genzoo`` runs it, its output to the null device; its
    exit status."""
    from genzoo.cli import main as genzoo_main

    with open(os.devnull, "w", encoding="utf-8") as null, contextlib.redirect_stdout(null):
        try:
            genzoo_main(command[3:], prog_name="genzoo")
        except SystemExit as done:
            return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0


def train(config: Shipped, folder: Path, data_root: str | None,
          max_steps: int | None, in_process: bool = False) -> tuple[float, float | None]:
    """Train ``config`` into ``folder`` (unless a finished run of it is there); its wall-clock
    seconds and its process CPU seconds (user + system, all threads; ``None`` if not recorded).

    ``genzoo train`` runs in a process of its own, or with ``in_process`` (the quick mode: the
    same command line, without paying torch's start for each configuration) in this one.
    """
    done = folder / DONE_FILE
    wanted = {**asdict(config), "settings": list(config.settings), "max_steps": max_steps}
    del wanted["sampling"]  # not part of training
    if not max_steps or not config.quick:
        del wanted["quick"]  # a full run does not use it
    else:
        wanted["quick"] = list(config.quick)
    if not config.options:
        del wanted["options"]  # as runs recorded before runner options were written
    else:
        wanted["options"] = list(config.options)
    if done.is_file():
        record = json.loads(done.read_text(encoding="utf-8"))
        if record["config"] == wanted:
            print(f"{config.name}: trained before in {record['seconds']:.0f} s", file=sys.stderr)
            return record["seconds"], record.get("cpu_seconds")
    if folder.exists():
        raise SystemExit(f"{folder} exists but holds no finished run of {config.name!r} with these "
                         "settings; move it away or choose another --zoo folder")
    command = config.command(folder, data_root, max_steps)
    print(f"{config.name}: {' '.join(command[2:])}", file=sys.stderr, flush=True)
    cpu_time = time.process_time if in_process else _children_cpu
    started, cpu_before = time.perf_counter(), cpu_time()
    if in_process:
        status = _train_here(command)
    else:
        status = subprocess.run(command, stdout=subprocess.DEVNULL, check=False).returncode
    if status != 0:
        raise SystemExit(f"training {config.name!r} failed (exit status {status}, "
                         f"its error is above); delete {folder} to train it again")
    # rounded as recorded, so that a table made now and one made later from the record agree
    seconds = round(time.perf_counter() - started, 1)
    cpu = round(cpu_time() - cpu_before, 1)
    done.write_text(json.dumps({"config": wanted, "seconds": seconds, "cpu_seconds": cpu}) + "\n",
                    encoding="utf-8")
    print(f"{config.name}: trained in {seconds:.0f} s ({cpu:.0f} s of CPU time)", file=sys.stderr,
          flush=True)
    return seconds, cpu


def sampling_seconds(model: object, n: int = 1000, batch_size: int = 500) -> tuple[float, float]:
    """Wall-clock and process CPU seconds per 1,000 samples, drawing ``n`` in batches (after
    one warm-up batch)."""
    model.sample(min(batch_size, n), seed=1)
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, n, batch_size):
        model.sample(min(batch_size, n - start), seed=start)
    scale = 1000 / n
    return (time.perf_counter() - started) * scale, (time.process_time() - cpu) * scale


def _pairs(options: list[str] | tuple[str, ...]) -> list[str]:
    """``["--ema", "0.999"]`` as ``["--ema 0.999"]``."""
    pairs: list[str] = []
    for option in options:
        if option.startswith("--") or not pairs:
            pairs.append(option)
        else:
            pairs[-1] += f" {option}"
    return pairs


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}:{seconds:02d}"


def zoo_rows(records: list[dict]) -> list[list[str]]:
    """The docs table's header and rows: one per configuration, FID also as a multiple of the
    floor, and the real-data floor last."""
    rows = [HEADER]
    for r in records:
        settings = " ".join(f"``{s}``" for s in [*r["settings"], *_pairs(r.get("options", ()))])
        if r.get("sampling"):
            settings += "; sampled with " + " ".join(f"``{s}``" for s in r["sampling"])
        settings = settings or "defaults"
        epochs = f"{r['max_steps']} steps" if r["max_steps"] else str(r["epochs"])
        rows.append([r["name"], settings, epochs, str(r["batch_size"]), _minutes(r["train_seconds"]),
                     _minutes(r.get("train_cpu_seconds")),
                     f"{r['sample_seconds_per_1000']:.1f} s ({r['sample_cpu_seconds_per_1000']:.1f} s CPU)",
                     f"{r['fid']:.2f}", f"{r['fid'] / r['floor']['fid']:.1f}×",
                     f"{r['classifier_score']:.2f}", f"{r['precision']:.3f}", f"{r['recall']:.3f}"])
    floor = records[0]["floor"]
    rows.append(["*real data (train vs test)*", "", "", "", "", "", "", f"{floor['fid']:.2f}", "1.0×",
                 f"{floor['classifier_score']:.2f}", f"{floor['precision']:.3f}",
                 f"{floor['recall']:.3f}"])
    return rows


#: The docs table's columns.
HEADER = ["configuration", "settings", "epochs", "batch", "training time", "CPU time",
          "sampling / 1,000", "FID ↓", "× floor", "classifier score ↑", "precision ↑", "recall ↑"]


def steps_header(n: int) -> list[str]:
    """The steps-vs-quality table's columns, for ``n`` samples."""
    return ["configuration", "sampling steps", "sampling / 1,000", f"sampling {n:,}",
            "FID ↓ (95% interval)", "× floor", "KID ↓ (95% interval)", "precision ↑", "recall ↑"]


def _with_interval(metrics, name: str, digits: int = 2) -> str:
    low, high = metrics.scores.intervals[name]
    return f"{getattr(metrics, name):.{digits}f} ({low:.{digits}f}–{high:.{digits}f})"


def merge_rows(path: Path, rows: list[list[str]]) -> list[list[str]]:
    """``rows`` (a header, configurations, the floor last) with the configurations an earlier
    table at ``path`` holds and ``rows`` does not, in :data:`ZOO`'s order (columns an older table
    lacks are left empty)."""
    if not path.is_file():
        return rows
    with path.open(newline="", encoding="utf-8") as file:
        old = list(csv.reader(file))
    fresh = {row[0]: row for row in rows[1:-1]}
    kept = {}
    for row in old[1:]:
        if row[0] in fresh or row[0].startswith("*"):
            continue
        kept[row[0]] = [dict(zip(old[0], row)).get(column, "") for column in HEADER]
    by_name = {**kept, **fresh}
    order = [c.name for c in ZOO if c.name in by_name] + [n for n in by_name if n not in
                                                          {c.name for c in ZOO}]
    return [rows[0], *[by_name[name] for name in order], rows[-1]]


def flat_record(metrics) -> dict:
    """An evaluation as flat JSON: each number by name, ``intervals`` by name, the same for the
    floor (``floor``, ``floor_intervals``), and the protocol card."""
    scores, floor = metrics.scores, metrics.floor
    return {**scores.as_dict(), "intervals": {k: list(v) for k, v in scores.intervals.items()},
            "floor": floor.as_dict(), "floor_intervals": {k: list(v) for k, v in floor.intervals.items()},
            "n": metrics.n, "dataset": metrics.dataset, "card": metrics.card.as_dict()}


def markdown(rows: list[list[str]]) -> str:
    """``rows`` (a header first) as a markdown table."""
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join([lines[0], "|" + "---|" * len(rows[0]), *lines[1:]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="*", type=Path, help="run folders or checkpoint files")
    parser.add_argument("--zoo", type=Path, metavar="OUT",
                        help="train every shipped configuration into OUT/<name>, then score them")
    parser.add_argument("--only", metavar="PATTERN", help="with --zoo: configurations matching this")
    parser.add_argument("--quick", action="store_true",
                        help="with --zoo: 3 steps each (all trained in this process), 200 "
                             "samples (whatever -n says), a quick classifier")
    parser.add_argument("--data", default="mnist", help="named data set to compare with")
    parser.add_argument("-n", type=int, default=10_000, help="samples per model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-root", default=os.environ.get("GENZOO_DATA"))
    parser.add_argument("--cache-dir", help="the feature network cache folder [default: "
                        "$XDG_CACHE_HOME/genzoo/features, else ~/.cache/genzoo/features]")
    parser.add_argument("--device", default="cpu", help="where to score (training runs on the CPU)")
    parser.add_argument("--steps", metavar="K,K,...", help="also score every model that samples "
                        "in steps (genzoo.IterativeGenerator) at each of these step counts, and "
                        "print a steps-vs-quality table")
    parser.add_argument("--steps-csv", type=Path, help="with --steps: also write that table here")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--csv", type=Path, help="with --zoo: also write the table here (the docs "
                        "include docs/guide/quality.csv)")
    parser.add_argument("--figures", type=Path, metavar="DIR", help="with --zoo: also copy each "
                        "run's final sample grid to DIR/<name>.png (the docs use docs/_static/models)")
    args = parser.parse_args()
    if bool(args.runs) == bool(args.zoo):
        parser.error("give run folders or checkpoints to score, or --zoo OUT (not both)")
    if (args.only or args.quick or args.csv or args.figures) and not args.zoo:
        parser.error("--only, --quick, --csv and --figures go with --zoo")
    zoo = [c for c in ZOO if fnmatch.fnmatchcase(c.name, args.only or "*")]
    if args.zoo and not zoo:
        parser.error(f"no configuration matches {args.only!r}; they are: "
                     + ", ".join(c.name for c in ZOO))
    try:
        steps = [int(k) for k in args.steps.split(",")] if args.steps else []
    except ValueError:
        parser.error(f"--steps takes step counts separated by commas (e.g. 2,4,8), not {args.steps!r}")
    if any(k < 1 for k in steps) or (args.steps_csv and not steps):
        parser.error("--steps takes positive step counts; --steps-csv goes with --steps")
    n = 200 if args.quick else args.n
    max_steps = 3 if args.quick else None
    quick_classifier = dict(epochs=1, max_train_images=500) if args.quick else {}
    timed = 20 if args.quick else 1000  # samples drawn to time sampling

    import genzoo
    from genzoo.metrics import Bootstrap, domain_classifier, evaluate, markdown_table
    from genzoo.runner import resolve_device

    trained = {}
    if args.zoo:
        for config in zoo:
            trained[config] = train(config, config.folder(args.zoo), args.data_root, max_steps,
                                    in_process=args.quick)
    device = resolve_device(args.device)
    classifier = domain_classifier(args.data, root=args.data_root, device=device,
                                   cache_dir=args.cache_dir, **quick_classifier,
                                   log=lambda line: print(line, file=sys.stderr))
    runs = [(c.folder(args.zoo), c) for c in trained] if args.zoo else [(r, None) for r in args.runs]
    rows, records, scored = [], [], []
    for run, config in runs:
        checkpoint = checkpoint_of(run)
        sampling = config.sampling_overrides() if config is not None else {}
        model = genzoo.load(checkpoint, device=device, **sampling)
        per_1000, cpu_per_1000 = sampling_seconds(model, n=timed)
        started = time.perf_counter()
        metrics = evaluate(model, data=args.data, n=n, seed=args.seed, root=args.data_root,
                           space=classifier, bootstrap=Bootstrap(resamples=20 if args.quick else 200))
        seconds = time.perf_counter() - started
        print(f"{run}: FID {metrics.fid:.3f} ({seconds:.1f} s; sampling {per_1000:.1f} s per "
              f"1,000 images, {cpu_per_1000:.1f} s of CPU time)", file=sys.stderr)
        rows.append((f"{run} ({model.registry_name})", metrics))
        scored.append((model, metrics, per_1000))
        record = {"run": str(run), "checkpoint": str(checkpoint), "model": model.registry_name,
                  "seconds": round(seconds, 2), "sample_seconds_per_1000": round(per_1000, 2),
                  "sample_cpu_seconds_per_1000": round(cpu_per_1000, 2),
                  **flat_record(metrics)}
        if config is not None:
            record |= {**asdict(config), "train_seconds": trained[config][0],
                       "train_cpu_seconds": trained[config][1], "max_steps": max_steps}
        records.append(record)
    sweep = []
    for (run, config), (base, shipped, shipped_per_1000) in zip(runs, scored) if steps else ():
        sampling = config.sampling_overrides() if config is not None else {}
        if not isinstance(base, genzoo.IterativeGenerator):
            continue
        for k in sorted({*steps, base.sampling_steps}):
            if k == base.sampling_steps:  # the shipped setting: scored above
                metrics, per_1000 = shipped, shipped_per_1000
            else:
                model = genzoo.load(checkpoint_of(run), device=device, **{**sampling, "sample_steps": k})
                per_1000, _ = sampling_seconds(model, n=timed)
                metrics = evaluate(model, data=args.data, n=n, seed=args.seed, root=args.data_root,
                                   space=classifier,
                                   bootstrap=Bootstrap(resamples=20 if args.quick else 200))
                print(f"{run} at {k} steps: FID {metrics.fid:.3f}", file=sys.stderr)
            sweep.append([str(run.name), f"{k} (shipped)" if k == base.sampling_steps else str(k),
                          f"{per_1000:.1f} s",
                          f"{per_1000 * n / 1000 / 60:.1f} min", _with_interval(metrics, "fid"),
                          f"{metrics.fid / metrics.floor.fid:.1f}×", _with_interval(metrics, "kid", 4),
                          f"{metrics.precision:.3f}", f"{metrics.recall:.3f}"])
    table = zoo_rows(records) if args.zoo else None
    print(markdown(table) if table else markdown_table(rows))
    print(f"\n{args.data}, {n} samples, seed {args.seed}; classifier test accuracy "
          f"{classifier.test_accuracy:.2%}; floor: {n} real training images vs the test set.")
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        merged = merge_rows(args.csv, table)
        with args.csv.open("w", newline="", encoding="utf-8") as file:
            csv.writer(file).writerows(merged)
    if sweep:
        steps_table = [steps_header(n), *sweep]
        print("\n" + markdown(steps_table))
        if args.steps_csv:
            with args.steps_csv.open("w", newline="", encoding="utf-8") as file:
                csv.writer(file).writerows(steps_table)
    if args.figures:
        args.figures.mkdir(parents=True, exist_ok=True)
        for config in trained:
            figure = args.figures / f"{config.folder(args.zoo).name}.png"
            if config.sampling:  # the run's own grids were drawn with its training-time options
                from genzoo.runner.outputs import save_sample_grid

                model = genzoo.load(checkpoint_of(config.folder(args.zoo)), **config.sampling_overrides())
                save_sample_grid(model, figure, 64, seed=0)
            else:
                shutil.copyfile(config.folder(args.zoo) / "grids" / "samples_final.png", figure)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
