"""Re-train, evaluate and re-export the pretrained models genzoo ships: one command for them all.

Each shipped model (:data:`PRETRAINED`) is the best MNIST configuration of its family in the
docs' quality table (:data:`quality.ZOO`), trained with the sampling options it is shipped with
set in its config (they change nothing in training), so that the run's checkpoint, its
``genzoo eval`` result and the exported folder all sample the same way. For each one, in order:

1. ``genzoo train`` into ``OUT/<name>`` (a run already there with the same settings is kept);
2. ``genzoo eval`` of its last checkpoint on MNIST (10,000 samples, seed 0) into the run's
   ``checkpoints/eval.json`` (kept when it is newer than the checkpoint);
3. ``genzoo export`` of the run into the ``pretrained/<name>`` folder of the distribution that
   provides the model, where that distribution's ``genzoo_register_pretrained`` hook finds it.

Then it writes the docs' table of them all, ``docs/guide/pretrained.csv``.

Usage::

    python benchmarks/pretrained.py                      # all of them (about 75 minutes on 2 cores)
    python benchmarks/pretrained.py --only mnist-vae     # one
    python benchmarks/pretrained.py --quick --out /tmp/p --dest /tmp/shipped  # a smoke run (CI)

``make pretrained`` runs the first line. The data comes from ``--data-root`` or ``$GENZOO_DATA``.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import json
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import ZOO, Shipped, checkpoint_of, train  # noqa: E402


@dataclass(frozen=True)
class Pretrained:
    """A shipped pretrained model: its name and the zoo configuration it is."""

    name: str
    zoo: str

    @property
    def config(self) -> Shipped:
        """The zoo configuration, its sampling options moved into its settings."""
        shipped = next(c for c in ZOO if c.name == self.zoo)
        return replace(shipped, name=self.name, settings=(*shipped.settings, *shipped.sampling),
                       sampling=())

    def destination(self) -> Path:
        """Its folder, where the installed (or editable) plugin that ships it registers it."""
        import genzoo

        shipped = genzoo.list_pretrained(self.name)
        if not shipped:
            raise SystemExit(f"no installed plugin ships {self.name}, so it has nowhere to go; "
                             "run `make venv` (it installs the plugin distributions)")
        return shipped[0].folder


#: The models genzoo ships (a student after its teacher).
PRETRAINED = [
    Pretrained("mnist-vae", "vae conditional"),
    Pretrained("mnist-gan", "gan ema"),
    Pretrained("mnist-dcgan", "dcgan conditional"),
    Pretrained("mnist-ddpm", "ddpm conditional"),
    Pretrained("mnist-flow-matching", "flow-matching conditional"),
    Pretrained("mnist-distilled-flow", "distilled-flow conditional"),  # its teacher: the above
    Pretrained("mnist-glow", "glow"),
]

#: The licence of the shipped weights (genzoo's own).
LICENSE = "apache-2.0"


def genzoo(*arguments: str) -> None:
    """Run ``python -m genzoo ARGUMENTS``, stopping this script when it fails."""
    command = [sys.executable, "-m", "genzoo", *arguments]
    print("$ genzoo " + " ".join(arguments), file=sys.stderr, flush=True)
    status = subprocess.run(command, check=False).returncode
    if status:
        raise SystemExit(f"`genzoo {arguments[0]}` failed with exit status {status} (above)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/pretrained"),
                        help="where the runs go (one folder each)  [default: runs/pretrained]")
    parser.add_argument("--only", metavar="PATTERN", help="the shipped models matching this")
    parser.add_argument("--dest", type=Path, metavar="DIR",
                        help="export into DIR/<name> instead of the packages' pretrained folders")
    parser.add_argument("--quick", action="store_true",
                        help="3 training steps each and 200 evaluation samples: a smoke run "
                             "(with --dest, so nothing shipped is replaced)")
    parser.add_argument("--no-eval", dest="evaluate", action="store_false",
                        help="export without evaluating (the card then says it was not evaluated)")
    parser.add_argument("--train-only", action="store_true", help="train, nothing else")
    parser.add_argument("--data-root", default=os.environ.get("GENZOO_DATA"))
    args = parser.parse_args()
    if args.quick and not args.dest:
        parser.error("--quick goes with --dest: a smoke run must not replace the shipped weights")
    chosen = [p for p in PRETRAINED if fnmatch.fnmatchcase(p.name, args.only or "*")]
    if not chosen:
        parser.error(f"no shipped model matches {args.only!r}; they are: "
                     + ", ".join(p.name for p in PRETRAINED))
    data_root = ["--data-root", args.data_root] if args.data_root else []
    for shipped in chosen:
        run = args.out / shipped.name
        train(shipped.config, run, args.data_root, 3 if args.quick else None)
        if args.train_only:
            continue
        checkpoint = checkpoint_of(run)
        result = checkpoint.parent / "eval.json"
        if args.evaluate and not (result.is_file()
                                  and result.stat().st_mtime > checkpoint.stat().st_mtime):
            genzoo("eval", str(checkpoint), "--data", "mnist", "-n", "200" if args.quick else "10000",
                   "--seed", "0", "--json", str(result), *data_root)
        target = args.dest / shipped.name if args.dest else shipped.destination()
        genzoo("export", str(run), str(target), "--license", LICENSE, "--force",
               "--repo", f"pretrained:{shipped.name}")
    if not args.dest and not args.train_only:
        write_table(args.out, TABLE)
        print(f"wrote {TABLE}", file=sys.stderr)


#: The docs' table of the shipped models (docs/guide/sharing.rst includes it).
TABLE = Path(__file__).resolve().parents[1] / "docs" / "guide" / "pretrained.csv"


def write_table(runs: Path, path: Path) -> None:
    """Write the table of every shipped model whose folder is in place: its scores (from the
    folder's ``eval.json``), size and training time (from its run in ``runs``; where that is not
    there, as the table had it, so that re-making one model keeps the others' times)."""
    rows = [["name", "configuration", "FID ↓", "× floor", "precision ↑", "recall ↑",
             "bits/dim ↓", "training", "size"]]
    from genzoo.hub import folder_summary

    before = {}
    if path.is_file():
        with path.open(newline="", encoding="utf-8") as file:
            before = {row["name"]: row["training"] for row in csv.DictReader(file)}
    for shipped in PRETRAINED:
        facts = folder_summary(shipped.destination())
        if facts["model"] is None or facts["fid"] is None:
            continue
        done = runs / shipped.name / "zoo.json"
        seconds = json.loads(done.read_text(encoding="utf-8"))["seconds"] if done.is_file() else None
        name = f"``pretrained:{shipped.name}``"
        rows.append([name, f"{shipped.zoo} (``{facts['model']}``)",
                     f"{facts['fid']:.2f}", f"{facts['fid'] / facts['floor_fid']:.1f}×",
                     f"{facts['precision']:.3f}", f"{facts['recall']:.3f}",
                     f"{facts['bits_per_dim']:.3f}" if facts["bits_per_dim"] is not None else "",
                     f"{seconds // 60:.0f}:{seconds % 60:02.0f}" if seconds
                     else before.get(name, ""),
                     f"{facts['megabytes']:.1f} MB"])
    with path.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows(rows)


if __name__ == "__main__":
    main()
