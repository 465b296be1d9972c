"""``genzoo eval``: sample quality of a checkpoint on any data, with intervals, floor and card;
``genzoo eval --compare A.json B.json`` puts two results side by side if they are comparable."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import click

from ..errors import GenzooError

_EPILOG = """\b
Examples:
  genzoo eval runs/vae/checkpoints/last.pt --data mnist -n 10000
  genzoo eval runs/gan/checkpoints/last.pt --seed 1 --json gan-eval.json
  genzoo eval runs/faces/checkpoints/last.pt --data ./faces      # a folder: no labels needed
  genzoo eval runs/pets/checkpoints/last.pt --data ./pets -n 2000  # one sub-folder per class
  genzoo eval runs/gan/checkpoints/last.pt --features inception  # needs torch-fidelity + weights
  genzoo eval runs/faces/checkpoints/last.pt --data ./faces --features dinov2-vit-s-14
  genzoo eval --compare runs/gan/eval.json runs/vae/eval.json
  genzoo eval user/gan-mnist --revision main -n 2000   # a Hub repository (or an exported folder)

\b
The first evaluation on some data trains its feature network (a classifier where the data has
labels, else a contrastive network; a minute or so on a CPU) and caches it in
~/.cache/genzoo/features; later ones reuse it. --compare exits with status 1 when the two
results' protocol cards differ (the results are not comparable).
"""


@click.command(epilog=_EPILOG)
@click.argument("checkpoint", type=click.Path(path_type=Path), required=False)
@click.option("--data",
              help="The data to compare with: a named data set (mnist, fashion-mnist, ...) or a "
                   "folder of images (one sub-folder per class gives labels).  [default: the "
                   "run's own data (from its train.toml), else mnist]")
@click.option("--features", default="auto", show_default=True, metavar="NAME",
              help="The feature network: auto is a classifier where the data has labels, else a "
                   "contrastive network trained on the images; classifier or contrastive; or a "
                   "pretrained network torch-fidelity runs when its weights are on disk: "
                   "inception, dinov2-vit-s-14 (-b-, -l-, -g-), clip-vit-b-32 (clip-vit-b-16, "
                   "clip-vit-l-14, clip-rn50) or vgg16.")
@click.option("-n", "count", type=click.IntRange(4), default=10_000, show_default=True,
              help="How many samples to draw and score.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="The sampling seed (the bootstrap's too): same seed, same numbers.")
@click.option("--json", "json_value", type=click.Path(dir_okay=False),
              help="Where to write the result as JSON.  [default: eval.json beside the checkpoint "
                   "file (a run folder's checkpoints/); for a model folder or a Hub repository, "
                   "eval.json here]")
@click.option("--force", is_flag=True,
              help="Replace the --json file even if it is not a result of genzoo eval.")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path),
              help="Where named data sets live.  [default: $GENZOO_DATA, else ~/.cache/genzoo/data]")
@click.option("--no-download", "download", is_flag=True, flag_value=False, default=True,
              help="Fail instead of downloading a missing data set.")
@click.option("--device", default="cpu", show_default=True,
              help="Where to run the model and the feature network: cpu, cuda, cuda:N, mps or auto.")
@click.option("--batch-size", type=click.IntRange(1), default=500, show_default=True,
              help="Images per feature pass (memory only: the numbers do not depend on it).")
@click.option("--sample-block", type=click.IntRange(1), default=500, show_default=True,
              help="Images per sampling call; on the protocol card, as it decides which images "
                   "a seed gives.")
@click.option("--bootstrap", "resamples", type=click.IntRange(10), default=200, show_default=True,
              help="Bootstrap resamples per confidence interval.")
@click.option("--level", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.95,
              show_default=True, help="The confidence level of the intervals.")
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path),
              help="A pretrained network's weights file (not for DINOv2, which loads from "
                   "torch.hub's cache).  [default: where torch-fidelity downloads them; for "
                   "inception also $GENZOO_INCEPTION_WEIGHTS]")
@click.option("--compare", "compare", type=click.Path(dir_okay=False, path_type=Path), nargs=2,
              metavar="A.json B.json",
              help="Compare two saved results instead: side by side if their protocol cards are "
                   "equal, else the settings that differ (exit status 1).")
@click.option("--likelihood-samples", type=click.IntRange(1), default=1, show_default=True,
              help="Samples of a stochastic likelihood bound (a VAE's importance-weighted bound; "
                   "1 is its ELBO; at most 10,000: each costs a decoder pass per image). Exact "
                   "likelihoods ignore it.")
@click.option("--revision", metavar="REV",
              help="For a Hub repository: a branch, tag or commit hash.  [default: main]")
def evaluate(checkpoint: Path | None, data: str | None, features: str, count: int, seed: int,
             json_value: str | None, force: bool, data_root: Path | None, download: bool, device: str,
             batch_size: int, sample_block: int, resamples: int, level: float,
             weights: Path | None, compare: tuple[Path, Path] | None,
             likelihood_samples: int, revision: str | None) -> None:
    """Score CHECKPOINT's samples: FID, KID, precision, recall, density, coverage and (for
    labelled data) the classifier score, each with a bootstrap confidence interval.

    The images are compared with the data's reference images in the features of a network that
    knows the data, and each number is shown beside the real-data floor: the same metric for as
    many real images of the data's other half. The protocol card says how the numbers were made;
    the result, card included, is also written as JSON. A model that can compute its likelihood
    also gets bits/dim on the reference images (uniform dequantization of 8-bit pixels), labelled
    exact or bound; other models get n/a. CHECKPOINT may also be a run folder (its last
    checkpoint), a model folder genzoo export wrote, or a Hugging Face Hub repository USER/NAME.
    """
    if compare:
        if checkpoint is not None:
            raise click.UsageError("give either CHECKPOINT or --compare A.json B.json, not both")
        _compare(*compare)
        return
    if checkpoint is None:
        raise click.UsageError("missing CHECKPOINT (or --compare A.json B.json)")
    from ..extras import require
    from ..files import EVAL_RESULT, check_output_file, output_path

    require("torchmetrics", "eval", "genzoo eval")  # before anything is loaded or sampled
    from ..hub import locate_model

    found = locate_model(checkpoint, revision=revision)  # a folder's config.json, checked
    if isinstance(found, Path):
        checkpoint = found  # a run folder: its last checkpoint
        default_out = checkpoint.parent / "eval.json"
    else:
        default_out = Path("eval.json")
    out = output_path(json_value, "--json") if json_value is not None else default_out
    check_output_file(out, EVAL_RESULT, force=force, option="--json")  # before the long part
    from ..checkpoint import load
    from ..metrics import Bootstrap, feature_space, format_card, format_metrics
    from ..metrics import evaluate as evaluate_model
    from ..runner import resolve_device
    from . import model_name

    from ..training import run_data

    from ..metrics.likelihood import MAX_LIKELIHOOD_SAMPLES

    if likelihood_samples > MAX_LIKELIHOOD_SAMPLES:  # refused before the long part
        raise click.BadParameter(
            f"{likelihood_samples:,} samples per image would take a decoder pass each; use at "
            f"most {MAX_LIKELIHOOD_SAMPLES:,} (100 is the usual choice)",
            param_hint="--likelihood-samples")
    if isinstance(found, Path):
        data, data_root = run_data(checkpoint, data, data_root)
    else:  # a model folder records the named data set it was trained on, if any
        from ..data.sources import check_source

        data = check_source(data, "--data") if data is not None else found.config.get("data", "mnist")
    target = resolve_device(device)
    from ..metrics import FEATURE_KINDS, PRETRAINED, require_pretrained

    if features not in FEATURE_KINDS:
        raise click.BadParameter(f"unknown feature network {features!r}; choose one of "
                                 f"{', '.join(FEATURE_KINDS)}", param_hint="--features")
    if features in PRETRAINED:
        require_pretrained(features, weights)  # fail before the long part
    model = load(found, device=target) if isinstance(found, Path) else found.load(device=target)
    name = model_name(model)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = _show_warning  # one "Warning: ..." line each
        space = feature_space(data, features, root=data_root, download=download, device=target,
                              weights=weights, log=lambda line: click.echo(line, err=True))
        metrics = evaluate_model(model, data=data, n=count, root=data_root, seed=seed,
                                 batch_size=batch_size, sample_block=sample_block, space=space,
                                 download=download, bootstrap=Bootstrap(resamples, level, seed))
    source = str(checkpoint) if isinstance(found, Path) else found.name
    record: dict[str, Any] = {"checkpoint": source, "model": name, **metrics.as_dict(),
                              "environment": _environment(target)}
    if space.test_accuracy is not None:
        record["classifier_accuracy"] = space.test_accuracy
    click.echo(f"{name} from {source}: {metrics.n} samples (seed {seed}) against "
               f"{metrics.card.data['reference_split']} ({space.kind} features)")
    click.echo(format_metrics(metrics))
    accuracy = (f"; classifier accuracy on the reference {space.test_accuracy:.2%}"
                if space.test_accuracy is not None else "")
    click.echo(f"(real-data floor: {metrics.card.floor_n} real images of the "
               f"{metrics.card.data['floor_split']} scored the same way{accuracy})")
    check_output_file(out, EVAL_RESULT, force=force, option="--json")  # written meanwhile?
    _write(out, record)  # what is computed is kept, whatever happens to bits/dim
    try:
        record["bits_per_dim"] = _bits_per_dim(model, name, data, data_root, download, seed,
                                               batch_size, likelihood_samples)
    except GenzooError as err:  # the other metrics stand; say which one failed and why
        click.echo(f"{'bits/dim ↓':<18}  {'failed':>10}  (see the warning)")
        click.echo(f"Warning: bits/dim was not computed: {err}", err=True)
        record["bits_per_dim"] = {"error": str(err)}
    click.echo(format_card(metrics))
    _write(out, record)
    click.echo(f"wrote {out}")
    if isinstance(found, Path):  # a run that logged to MLflow gets its evaluation there too
        from ..runner.trackers import log_to_recorded_runs

        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            logged = log_to_recorded_runs(found.parent.parent, out, "eval")
        if logged:
            click.echo(logged)


def _write(out: Path, record: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    click.echo(f"Warning: {message}", err=True)


def _bits_per_dim(model: object, name: str, data: str, root: Path | None, download: bool,
                  seed: int, batch_size: int, samples: int) -> dict[str, object] | None:
    """Print bits/dim on the reference images (a named set's test split, a folder's reference
    half), or n/a, and return it for the JSON record."""
    from ..metrics.eval_data import load_eval_data, named_data
    from ..metrics.likelihood import evaluate_likelihood, has_likelihood

    if not has_likelihood(model):
        click.echo(f"{'bits/dim ↓':<18}  {'n/a':>10}  ({name} has no likelihood)")
        return None
    named = named_data(data)
    images = None if named is not None else load_eval_data(data).reference.images
    score = evaluate_likelihood(model, images, dataset=named[0] if named else "mnist", root=root,
                                download=download, seed=seed, batch_size=batch_size, samples=samples)
    click.echo(f"{'bits/dim ↓':<18}  {score.bits_per_dim:>10.4f}  ± {score.stderr:.4f}, "
               f"{score.kind}{'' if score.kind == 'exact' else f' (samples={samples})'}; "
               f"{score.n} test images, uniform dequantization of 8-bit pixels")
    return score.as_dict()


def _compare(a: Path, b: Path) -> None:
    from ..metrics import format_comparison

    comparable, text = format_comparison(_read_result(a), _read_result(b), names=(a.name, b.name))
    click.echo(f"A = {a}\nB = {b}")
    click.echo(text)
    if not comparable:
        raise SystemExit(1)


def _read_result(path: Path) -> Any:
    from ..metrics import Metrics, MetricsError

    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return Metrics.from_dict(record)
    except FileNotFoundError:
        raise MetricsError(f"no result file at {path}; write one with genzoo eval CHECKPOINT "
                           f"--json {path}") from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise MetricsError(f"{path} is not a result of genzoo eval with a protocol card "
                           f"({type(err).__name__}: {err}); evaluate again with this genzoo") from None


def _environment(device: Any) -> dict[str, str]:
    import torch

    return {"device": str(device), "torch": str(torch.__version__)}
