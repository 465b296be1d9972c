"""``genzoo sample``: images from a trained checkpoint, a model folder or a Hub repository."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(epilog="\b\nExamples:\n  genzoo sample runs/gan/checkpoints/last.pt -n 64 -o gan.png\n"
                     "  genzoo sample runs/vae/checkpoints/last.pt -n 100 -o samples/ --seed 1\n"
                     "  genzoo sample runs/cgan/checkpoints/last.pt -n 16 --label 7 -o sevens.png\n"
                     "  genzoo sample runs/cgan/checkpoints/last.pt -n 30 --label 3 --label 8 --nrow 2\n"
                     "  genzoo sample runs/ddpm/checkpoints/last.pt --steps 50 -o fast.png\n"
                     "  genzoo sample runs/vae/checkpoints/last.pt --set temperature=0.7 --weights raw\n"
                     "  genzoo sample vae-mnist -n 16 -o vae.png              # an exported folder\n"
                     "  genzoo sample user/vae-mnist --revision v1.0 -o vae.png  # a Hub repository")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("-n", "count", type=click.IntRange(1), default=64, show_default=True, help="How many images.")
@click.option("-o", "--output", "output_value", type=click.Path(), default="samples.png",
              show_default=True, help="A .png/.jpg file for a grid, or a folder for one PNG per image.")
@click.option("--force", is_flag=True,
              help="Replace the output even if it is not an image genzoo sample wrote (a "
                   "checkpoint, a run's file, a data image...), or write into a folder of images.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same images.")
@click.option("--device", default="cpu", show_default=True, help="Where to run the model.")
@click.option("--nrow", type=click.IntRange(1), help="Images per grid row.  [default: square]")
@click.option("--label", "labels", type=click.IntRange(0), multiple=True, metavar="K",
              help="Class-conditional models: draw class K (repeat to cycle through several "
                   "classes).  [default: every class in turn]")
@click.option("--steps", type=click.IntRange(1), metavar="K",
              help="Models that sample in steps (diffusion, flow matching): take K steps.  "
                   "[default: the model's]")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Change a sampling option of the model (repeatable), e.g. --set temperature=0.7; "
                   "training settings cannot change.")
@click.option("--weights", type=click.Choice(["auto", "ema", "raw"]), default="auto", show_default=True,
              help="auto: the weight EMA when the run kept one, else the trained weights.")
@click.option("--revision", metavar="REV",
              help="For a Hub repository: a branch, tag or commit hash.  [default: main]")
def sample(checkpoint: Path, count: int, output_value: str, force: bool, seed: int, device: str,
           nrow: int | None, labels: tuple[int, ...], steps: int | None, settings: tuple[str, ...],
           weights: str, revision: str | None) -> None:
    """Draw images from a trained CHECKPOINT into a grid or a folder of PNGs.

    CHECKPOINT is a checkpoint file, a run folder (its last checkpoint), a model folder genzoo
    export wrote, or a Hugging Face Hub repository USER/NAME. An existing output is replaced
    only if genzoo sample wrote it (or with --force).
    """
    import math

    import torch

    from ..files import SAMPLE_IMAGE, check_output_file, check_output_folder, output_path, write_sample_image
    from ..labels import class_count
    from ..protocols import IterativeGenerator
    from ..memory import OutOfMemoryError, check_sample_size, is_out_of_memory
    from ..hub import load_model
    from ..sampling import check_sampling_steps, finite_images
    from ..runner import resolve_device
    from . import model_name

    output = output_path(output_value, "-o/--output")
    is_grid = output.suffix.lower() in (".png", ".jpg", ".jpeg")
    if not is_grid and output.suffix and not output.is_dir():
        raise click.BadParameter(f"{output.name}: write a grid as .png or .jpg, or name a folder "
                                 "(no extension) for one PNG per image", param_hint="-o/--output")
    if not is_grid and output.exists() and not output.is_dir():
        raise click.BadParameter(f"{output} is a file; name a .png/.jpg grid or a folder",
                                 param_hint="-o/--output")
    if is_grid:
        check_output_file(output, SAMPLE_IMAGE, force=force)
    else:
        check_output_folder(output, option="-o/--output", force=force, adds="the samples")
        for index in range(count):
            check_output_file(output / f"sample_{index:05d}.png", SAMPLE_IMAGE, force=force)
    from ..training import raise_if_broken_plugin

    overrides = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--set")
        overrides[key.strip()] = value.strip()
    try:
        model = load_model(checkpoint, revision=revision, device=resolve_device(device),
                           weights=weights, **overrides)  # type: ignore[arg-type]
    except Exception as err:
        raise_if_broken_plugin(err)
        raise
    check_sample_size(model, count, grid=is_grid)
    classes = class_count(model)
    if labels and not classes:
        raise click.BadParameter(f"{checkpoint} holds a {model_name(model)} that is not "
                                 "class-conditional; sample it without --label (or train one "
                                 "with --set num_classes=N)", param_hint="--label")
    if len(labels) > count:
        raise click.BadParameter(f"{len(labels)} classes for {count} images; draw at least one "
                                 f"image per class (-n {len(labels)} or more)", param_hint="--label")
    if labels and max(labels) >= classes:
        raise click.BadParameter(f"class {max(labels)} does not exist: {model_name(model)} was "
                                 f"trained with {classes} classes, 0 to {classes - 1}",
                                 param_hint="--label")
    options = {}
    if steps is not None:
        if not isinstance(model, IterativeGenerator):
            raise click.BadParameter(f"{model_name(model)} samples in one step; --steps is for "
                                     "models that sample in steps (diffusion, flow matching)",
                                     param_hint="--steps")
        options["steps"] = check_sampling_steps(model, steps, option="--steps")
    if labels:
        options["labels"] = torch.tensor(labels)[torch.arange(count) % len(labels)]
    try:
        images = finite_images(model.sample(count, seed=seed, **options).cpu(),
                               f"samples of {model_name(model)}")
    except (MemoryError, RuntimeError) as err:
        if not is_out_of_memory(err):
            raise
        raise OutOfMemoryError(f"sampling {count} images ran out of memory; nothing was written; "
                               "draw fewer at a time (-n) and run again") from err
    if is_grid:
        output.parent.mkdir(parents=True, exist_ok=True)
        write_sample_image(images, output, nrow=nrow or max(1, round(math.sqrt(count))))
        click.echo(f"wrote a grid of {count} samples to {output}")
    else:
        output.mkdir(parents=True, exist_ok=True)
        for index, image in enumerate(images):
            write_sample_image(image, output / f"sample_{index:05d}.png")
        click.echo(f"wrote {count} samples to {output}/")
