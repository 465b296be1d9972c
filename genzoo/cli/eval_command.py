"""``genzoo eval``: sample-quality metrics of a checkpoint, beside the real-data floor."""

from __future__ import annotations

import json
from pathlib import Path

import click

_EPILOG = """\b
Examples:
  genzoo eval runs/vae/checkpoints/last.pt --data mnist -n 10000
  genzoo eval runs/gan/checkpoints/last.pt --seed 1 --json gan-eval.json
  genzoo eval runs/fvae/checkpoints/last.pt --data fashion-mnist --device cuda
  genzoo eval runs/gan/checkpoints/last.pt --inception   # also Inception FID (optional extra)

\b
The first evaluation on a data set trains its small classifier (a minute or so on a CPU)
and caches it in ~/.cache/genzoo/classifiers; later ones reuse it.
"""


@click.command(epilog=_EPILOG)
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--data", "dataset",
              help="The named data set to compare with: mnist or fashion-mnist.  [default: the "
                   "run's own data set (from its train.toml), else mnist]")
@click.option("-n", "count", type=click.IntRange(4), default=10_000, show_default=True,
              help="How many samples to draw and score.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same numbers.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the metrics as JSON.  [default: eval.json beside CHECKPOINT]")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path),
              help="Where named data sets live.  [default: $GENZOO_DATA, else ~/.cache/genzoo/data]")
@click.option("--no-download", "download", is_flag=True, flag_value=False, default=True,
              help="Fail instead of downloading a missing data set.")
@click.option("--device", default="cpu", show_default=True,
              help="Where to run the model and the classifier: cpu, cuda, cuda:N, mps or auto.")
@click.option("--batch-size", type=click.IntRange(1), default=500, show_default=True,
              help="Images per sampling step.")
@click.option("--inception", is_flag=True,
              help="Also compute Inception FID (needs torch-fidelity and its weights).")
@click.option("--likelihood-samples", type=click.IntRange(1), default=1, show_default=True,
              help="Samples of a stochastic likelihood bound (a VAE's importance-weighted bound; "
                   "1 is its ELBO). Exact likelihoods ignore it.")
def evaluate(checkpoint: Path, dataset: str | None, count: int, seed: int, json_path: Path | None,
             data_root: Path | None, download: bool, device: str, batch_size: int,
             inception: bool, likelihood_samples: int) -> None:
    """Score CHECKPOINT's samples: FID, classifier score, precision and recall; and bits/dim.

    The metrics are measured in the features of a small classifier of the data set, and each
    is shown beside the real-data floor: the same metric for as many real training images
    against the same test set. A model that can compute its likelihood also gets bits/dim on
    the whole test split (uniform dequantization of 8-bit pixels), labelled exact or bound;
    other models get n/a. The results are also written as JSON.
    """
    from .. import __version__
    from ..checkpoint import load
    from ..metrics import domain_classifier, format_metrics
    from ..metrics import evaluate as evaluate_model
    from ..runner import resolve_device
    from . import model_name

    from ..training import run_data

    dataset, data_root = run_data(checkpoint, dataset, data_root)
    target = resolve_device(device)
    if inception:
        from ..metrics import require_inception

        require_inception()  # fail before the long part
    model = load(checkpoint, device=target)
    name = model_name(model)
    classifier = domain_classifier(dataset, root=data_root, download=download, device=target,
                                   log=lambda line: click.echo(line, err=True))
    metrics = evaluate_model(model, dataset=dataset, n=count, root=data_root, seed=seed,
                             batch_size=batch_size, classifier=classifier, download=download)
    record = {"checkpoint": str(checkpoint), "model": name, **metrics.as_dict(),
              "classifier": {"path": str(classifier.path), "training": classifier.training},
              "genzoo_version": __version__}
    if inception:
        from ..metrics import inception_fid

        result = inception_fid(model, dataset, n=count, root=data_root, seed=seed,
                               device=target, download=download)
        record["inception_fid"] = {"fid": result.fid, "floor": result.floor}

    click.echo(f"{name} from {checkpoint}: {metrics.n} samples (seed {seed}) against the "
               f"{metrics.dataset} test set")
    click.echo(format_metrics(metrics))
    if inception:
        click.echo(f"{'Inception FID ↓':<18}  {result.fid:>10.4f}  {result.floor:>15.4f}")
    click.echo(f"(real-data floor: {metrics.n} real training images scored the same way; "
               f"classifier test accuracy {classifier.test_accuracy:.2%})")
    record["bits_per_dim"] = _bits_per_dim(model, name, dataset, data_root, download, seed,
                                           batch_size, likelihood_samples)
    out = json_path if json_path is not None else checkpoint.parent / "eval.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    click.echo(f"wrote {out}")


def _bits_per_dim(model: object, name: str, dataset: str, root: Path | None, download: bool,
                  seed: int, batch_size: int, samples: int) -> dict[str, object] | None:
    """Print bits/dim on the test split (or n/a) and return it for the JSON record."""
    from ..metrics.likelihood import evaluate_likelihood, has_likelihood

    if not has_likelihood(model):
        click.echo(f"{'bits/dim ↓':<18}  {'n/a':>10}  ({name} has no likelihood)")
        return None
    score = evaluate_likelihood(model, dataset=dataset, root=root, download=download, seed=seed,
                                batch_size=batch_size, samples=samples)
    click.echo(f"{'bits/dim ↓':<18}  {score.bits_per_dim:>10.4f}  ± {score.stderr:.4f}, "
               f"{score.kind}{'' if score.kind == 'exact' else f' (samples={samples})'}; "
               f"{score.n} test images, uniform dequantization of 8-bit pixels")
    return score.as_dict()
