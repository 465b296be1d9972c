"""Kill ``genzoo train`` at random points, restart it, and check nothing was lost.

Trains a small model once without interruption (the reference), then trains the same run again
in rounds: each round starts ``genzoo train ... --resume auto`` in a fresh process and, once
it holds the run folder, after a random delay within the reference's training time, kills it
with a random signal (SIGKILL: no clean-up at all; SIGINT or SIGTERM: the runner's
stop-and-checkpoint path, sometimes while a checkpoint is being written). A round that
finishes the run before its kill is checked like the end result and the run starts over. After
the rounds, one last restart runs to the end. The script then checks that

* the final weights equal the reference's bit for bit (exact resume through every kill);
* the run folder holds no temporary checkpoint files and no stray lock owner;
* ``metrics.jsonl`` has each epoch once, in order, as in the reference;
* every killed process that reached genzoo's own signal handling ended without a traceback.

Usage::

    python benchmarks/fault_injection.py --rounds 20            # the full check
    python benchmarks/fault_injection.py --quick                # 3 rounds (run by the tests)

It prints one line per round (signal, delay, exit status, the checkpoint's epoch and step) and a
summary; it exits with status 1 if a check fails. Timings depend on the machine (each process
pays Python's and torch's start-up, about 2-5 s).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIGNALS = (signal.SIGKILL, signal.SIGINT, signal.SIGTERM)


def write_data(root: Path, images: int, seed: int) -> Path:
    """A small MNIST-style data root (IDX files) of ``images`` random digits-like images."""
    from genzoo.data import write_idx

    rng = np.random.default_rng(seed)
    raw = root / "MNIST" / "raw"
    for split, n in (("train", images), ("t10k", 16)):
        write_idx(raw / f"{split}-images-idx3-ubyte", (rng.random((n, 28, 28)) ** 3 * 255).astype(np.uint8))
        write_idx(raw / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, n).astype(np.uint8))
    return root


def command(root: Path, out: Path, epochs: int, resume: bool) -> list[str]:
    """The training command: a small VAE, CPU, a checkpoint every epoch."""
    args = [sys.executable, "-m", "genzoo", "train", "vae", "--data-root", str(root),
            "--no-download", "--out", str(out), "--epochs", str(epochs), "--batch-size", "16",
            "--seed", "0", "--device", "cpu", "--no-progress", "--grid-every", "0",
            "--set", "hidden_dim=32", "--set", "latent_dim=4"]
    return args + (["--resume", "auto"] if resume else [])


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _wait_for_training(process: subprocess.Popen, out: Path) -> float:
    """Wait until ``process`` holds the run folder (its lock's owner file appears, just before
    the data is loaded and training starts), or ends; return the time."""
    owner = out / ".genzoo" / "owner.json"
    while process.poll() is None and not owner.exists():
        time.sleep(0.01)
    return time.perf_counter()


def _checkpoint_state(out: Path) -> str:
    import torch

    path = out / "checkpoints" / "last.pt"
    if not path.is_file():
        return "no checkpoint"
    payload = torch.load(path, weights_only=True)
    return f"epoch {payload['epoch']} step {payload['step']}"


def _finished(out: Path, epochs: int) -> bool:
    import torch

    path = out / "checkpoints" / "last.pt"
    if not path.is_file():
        return False
    payload = torch.load(path, weights_only=True)
    return payload["epoch"] == epochs and not payload.get("batch_in_epoch")


def _weights(out: Path) -> dict:
    import genzoo

    return genzoo.load(out / "checkpoints" / "last.pt").state_dict()


def run(rounds: int, epochs: int, images: int, seed: int, work: Path) -> list[str]:
    """Run the reference and the killed rounds in ``work``; return the failed checks."""
    rng = random.Random(seed)
    root = write_data(work / "data", images, seed)
    process = subprocess.Popen(command(root, work / "reference", epochs, resume=False), env=_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = _wait_for_training(process, work / "reference")
    _, stderr = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"the reference run failed:\n{stderr}")
    span = time.perf_counter() - started  # training alone, without Python's and torch's start-up
    print(f"reference: {epochs} epochs, {span:.2f} s of training "
          f"({_checkpoint_state(work / 'reference')})")
    out = work / "killed"
    failures: list[str] = []
    completed = 0
    for index in range(rounds):
        sig = rng.choice(SIGNALS)
        delay = rng.uniform(0.0, span * 1.1)
        process = subprocess.Popen(command(root, out, epochs, resume=True), env=_env(),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for_training(process, out)
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.send_signal(sig)
        stdout, stderr = process.communicate()
        code = process.returncode
        handled = "genzoo: stopped by signal" in stderr or "genzoo: interrupted" in stderr
        print(f"round {index + 1:>3}: {signal.Signals(sig).name:<7} after {delay:5.2f} s -> exit "
              f"{code:>4}  {_checkpoint_state(out)}{'  (handled)' if handled else ''}")
        if handled and "Traceback" in stderr:
            failures.append(f"round {index + 1}: a traceback after genzoo handled the signal:\n{stderr}")
        if code not in (0, 2, 130, 128 + signal.SIGTERM, -signal.SIGKILL, -signal.SIGINT,
                        -signal.SIGTERM, 1):
            failures.append(f"round {index + 1}: unexpected exit status {code}:\n{stderr}")
        if code == 2:
            failures.append(f"round {index + 1}: an error after a kill:\n{stderr}")
        if code == 0 or _finished(out, epochs):  # it finished before the kill: check it, then
            # start the run over (a run killed while exiting counts as finished)
            failures += [f"round {index + 1}: {f}"
                         for f in _compare(work / "reference", out, clean_exit=code == 0)]
            completed += 1
            shutil.rmtree(out)
    final = subprocess.run(command(root, out, epochs, resume=True), env=_env(),
                           capture_output=True, text=True)
    print(f"final run: exit {final.returncode}  {_checkpoint_state(out)}; {completed} round(s) "
          "had finished the run before their kill (checked, then started over)")
    if final.returncode != 0:
        return failures + [f"the final run failed:\n{final.stderr}"]
    failures += _compare(work / "reference", out)
    return failures


def _compare(reference: Path, out: Path, clean_exit: bool = True) -> list[str]:
    import torch

    failures = []
    ref, got = _weights(reference), _weights(out)
    differ = [k for k in ref if not torch.equal(ref[k], got[k])]
    if differ:
        failures.append(f"weights differ from the uninterrupted run: {', '.join(differ)}")
    leftovers = [p.name for p in (out / "checkpoints").iterdir() if p.name != "last.pt"]
    if leftovers:
        failures.append(f"temporary files left in the run folder: {leftovers}")
    if clean_exit and (out / ".genzoo" / "owner.json").exists():
        failures.append("the lock's owner file was left behind by the last (clean) run")

    def epochs(folder: Path) -> list[int]:
        lines = (folder / "metrics.jsonl").read_text().splitlines()
        return [json.loads(line)["epoch"] for line in lines if not json.loads(line).get("partial")]

    if epochs(out) != epochs(reference):
        failures.append(f"metrics.jsonl epochs {epochs(out)}, expected {epochs(reference)}")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="Kills before the final run.")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--images", type=int, default=256, help="Training images (16 a batch).")
    parser.add_argument("--seed", type=int, default=0, help="Seeds the kill points and signals.")
    parser.add_argument("--quick", action="store_true", help="3 rounds, 2 epochs, 128 images.")
    parser.add_argument("--work", type=Path, help="Where to train (default: a temporary folder).")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.epochs, args.images = 3, 2, 128
    if args.rounds < 0 or args.epochs < 1 or args.images < 16:
        parser.error("--rounds must be >= 0, --epochs >= 1 and --images >= 16")
    with tempfile.TemporaryDirectory(prefix="genzoo-faults-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        failures = run(args.rounds, args.epochs, args.images, args.seed, work)
    if failures:
        print("FAILED:\n" + "\n".join(failures))
        return 1
    print(f"ok: {args.rounds} killed rounds, final weights equal the uninterrupted run's, "
          "no temporary files, metrics complete")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
