"""A few-step student of a flow-matching teacher: reflow, then distillation (Liu et al. 2023).

The teacher (a trained ``flow-matching`` model; with ``init_from_teacher=False`` any sampler
of image-shaped noise with the same ``generate``) makes noise–image pairs once, with its own
sampler and guidance, into the run folder (:meth:`genzoo.StepContext.teacher_samples`: in
chunks, resumable, tied to the teacher's weight hash and to the settings that decide the
pairs). The student, a UNet started from the teacher's weights, learns the straight line from
each noise to its image: from ``t = 0`` (most of each batch) the whole jump from noise to image
(distillation), and from a quarter, half or three quarters of the way, where 2 and 4 steps
start, the rest of the segment (reflow). The teacher's paths do not cross, so the pairs
pull the student's field straight, and a single Euler step lands close to where the teacher's
eleven network evaluations did; two or four steps correct what is left. The regression is
an absolute error, which pulls each pixel's small errors to zero (a squared error left a faint
speckle on the one-jump images' background). Any regression still pulls each one-jump image
towards the middle of what the student cannot yet tell apart, which blurs it, so a small
critic also judges those images beside the data's real ones (``adversarial``, as in
adversarial diffusion distillation, Sauer et al. 2023; :mod:`genzoo_few_step.adversary`).

Why reflow and distillation rather than consistency distillation: the pairs cost one
teacher sampling run, made once and re-used by every epoch and resume, while consistency
distillation calls the teacher (twice, with guidance) in every training step; the student's
loss is a regression (plus the critic's) with no target network, so it trains in the runner's
usual step and resumes bit for bit; and the teacher's guidance is baked into the pairs, so the
student samples guided images in one network evaluation instead of two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from genzoo.plugin import (
    MAX_SAMPLING_STEPS, Batch, ConfigError, GenerativeModel, StepContext, Teacher, UNetOptions,
    UNetSampling, adam, added_option, class_labels, generate_in_chunks, guided, interpolate,
    sampling_option,
)

from .adversary import Critic, critic_loss, generator_loss
from .jumps import jump

__all__ = ["DistilledFlowConfig", "DistilledFlow"]

#: The models whose UNet ``net`` is a velocity field on the straight path, as the student's is.
_VELOCITY_TEACHERS = frozenset({"flow-matching", "distilled-flow"})

#: The teacher's options that change the images it makes for the same noise and class.
_TEACHER_SAMPLING = ("sampler", "sample_steps", "time_shift", "guidance", "clip_denoised")


@dataclass(frozen=True)
class DistilledFlowConfig(UNetOptions):
    """The distilled student's options, after the UNet's (:class:`~genzoo.nn.UNetOptions`,
    which must match the teacher's network to start from its weights; ``label_dropout`` is
    the share of pairs the teacher makes unconditionally, so the student can be guided).

    Attributes:
        pairs: Noise–image pairs the teacher makes (once, into the run folder).
        pair_chunk: Pairs made (and saved) at a time; an interrupted run keeps whole chunks.
        pair_seed: The seed of the pairs' noise and classes.
        jump_share: Share of each batch trained on the whole jump from noise (``t = 0``); the
            rest starts a quarter, half or three quarters of the way (where 2 and 4 steps do).
            0.85 before 0.95, which students saved before keep.
        loss: ``"l1"`` (the absolute error, summed over each image's pixels and divided by
            the square root of their number: it pulls each pixel's small errors to zero, so a
            one-jump image keeps sharp strokes on a clean background), ``"mse"`` (mean squared
            error) or ``"pseudo-huber"`` (``sqrt(|d|^2 + c^2) - c`` per image, with
            ``c = 0.00054 sqrt(dimensions)``, Song & Dhariwal 2023: gentler on the few pairs the
            student gets far wrong; the default before ``"l1"``, which students saved before
            keep).
        init_from_teacher: Start from the teacher's network weights (it must have the same
            UNet options); otherwise from scratch.
        sample_steps: Euler steps when sampling (``steps=`` overrides it): 1, 2 or 4 are
            what it is trained for; any count works.
        guidance: Classifier-free guidance when sampling, on top of the teacher's guidance the
            pairs carry (1: none, one network evaluation per step; needs ``label_dropout``).
        adversarial: Weight of a critic's loss on the student's one-jump images against the
            data's real images (:mod:`genzoo_few_step.adversary`; 0: pure regression, and
            the data's images are not used).
        critic_lr: Adam's learning rate for the critic.
        lr: Adam's learning rate: high, for a student trained in three epochs that start
            from its teacher's weights; 1e-3 before 4e-3, which students saved before keep.
    """

    pairs: int = 20_000
    pair_chunk: int = 1_000
    pair_seed: int = 0
    jump_share: float = added_option(0.95, absent=0.85)
    loss: Literal["l1", "mse", "pseudo-huber"] = added_option("l1", absent="pseudo-huber")
    init_from_teacher: bool = True
    sample_steps: int = sampling_option(1, minimum=1, maximum=MAX_SAMPLING_STEPS)
    guidance: float = sampling_option(1.0, minimum=0.0, maximum=100.0)
    adversarial: float = added_option(2.0, absent=0.0)  # students saved before it had no critic
    critic_lr: float = 2e-4
    lr: float = added_option(4e-3, absent=1e-3)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.adversarial < 0 or self.critic_lr <= 0:
            raise ValueError(f"adversarial must be 0 or more and critic_lr positive, got "
                             f"{self.adversarial} and {self.critic_lr}")
        if self.pairs < 1 or self.pair_chunk < 1:
            raise ValueError(f"pairs and pair_chunk must be positive, got {self.pairs} and "
                             f"{self.pair_chunk}")
        if self.loss not in ("l1", "mse", "pseudo-huber"):
            raise ValueError(f"loss must be 'l1', 'mse' or 'pseudo-huber', got {self.loss!r}")
        if not 0 <= self.jump_share <= 1:
            raise ValueError(f"jump_share must be in [0, 1], got {self.jump_share}")
        if self.sample_steps < 1 or self.guidance < 0 or self.lr <= 0:
            raise ValueError("sample_steps must be at least 1, guidance 0 or more, lr positive")


class DistilledFlow(UNetSampling, GenerativeModel):
    """A student of a flow-matching teacher that samples in one to a few steps.

    A :class:`~genzoo.Student` whose teacher is required: build it with one
    (``genzoo.build("distilled-flow", num_classes=10, teacher="pretrained:mnist-flow-matching")``,
    ``genzoo train distilled-flow --teacher ...``). A trained student samples without it.

    Args:
        config: A :class:`DistilledFlowConfig`; or pass its fields as keyword arguments.

    Example::

        student = genzoo.build("distilled-flow", num_classes=10,
                               teacher="pretrained:mnist-flow-matching")
        student.fit(loader, epochs=2)
        sevens = student.sample(16, labels=7, steps=1)
    """

    Config = DistilledFlowConfig
    config: DistilledFlowConfig
    teacher_required = True

    def __init__(self, config: DistilledFlowConfig | None = None, /, **overrides: object) -> None:
        super().__init__(config, **overrides)
        self.net = self.config.build_unet()
        if self.config.adversarial:
            self.critic = Critic(self.config.image_shape, self.config.num_classes)
        self.teacher: Teacher | None = None

    # -- the teacher --------------------------------------------------------------------------

    def set_teacher(self, teacher: Teacher) -> None:
        """Take the teacher; start from its network's weights when ``init_from_teacher``.

        Args:
            teacher: The frozen teacher.

        Raises:
            ConfigError: the teacher's latent is not an image of this model's shape, its
                classes differ, or (with ``init_from_teacher``) it is not a flow-matching
                model with this student's UNet options.
        """
        cfg = self.config
        latent = tuple(teacher.sample_latent(1, generator=torch.Generator()).shape[1:])
        if latent != tuple(cfg.image_shape):
            raise ConfigError(f"distilled-flow needs a teacher whose noise is an image of shape "
                              f"{tuple(cfg.image_shape)}, like flow matching's; "
                              f"{teacher.describe()} draws {latent}")
        theirs = getattr(teacher.model, "config", None)
        classes = getattr(theirs, "num_classes", 0)
        if classes != cfg.num_classes:
            raise ConfigError(f"the teacher {teacher.describe()} has num_classes={classes}, the "
                              f"student {cfg.num_classes}: pass num_classes={classes}")
        if cfg.init_from_teacher:
            differ = [f"{name}={getattr(theirs, name, None)!r}"
                      for name in UNetOptions.architecture_fields
                      if getattr(theirs, name, None) != getattr(cfg, name)]
            net = getattr(teacher.model, "net", None)
            if teacher.name not in _VELOCITY_TEACHERS or not isinstance(net, torch.nn.Module):
                problem = "it is not a flow-matching model (whose UNet predicts a velocity)"
            elif differ:
                problem = f"its network has {', '.join(differ)}; pass the same options"
            else:
                problem = ""
            if not problem:
                try:
                    with torch.no_grad():
                        self.net.load_state_dict(net.state_dict())
                except RuntimeError as err:
                    problem = f"its network's weights do not fit ({str(err).splitlines()[0]})"
            if problem:
                raise ConfigError(f"cannot start from the weights of {teacher.describe()}: "
                                  f"{problem}, or init_from_teacher=false")
        self.teacher = teacher

    def _make_pairs(self, teacher: Teacher, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """``n`` pairs: noise, the teacher's image for it (in ``[0, 1]``) and its class (the
        null class for the ``label_dropout`` share made unconditionally)."""
        cfg = self.config
        noise = teacher.sample_latent(n, generator=generator)
        device = self.device
        if not cfg.num_classes:
            images = teacher.generate(noise.to(device))
            return {"noise": noise, "images": images.float().cpu()}
        labels = torch.randint(0, cfg.num_classes, (n,), generator=generator)
        free = torch.rand(n, generator=generator) < cfg.label_dropout
        images = torch.empty_like(noise)
        for rows, guidance in ((~free, None), (free, 0.0)):
            if rows.any():
                options = {} if guidance is None else {"guidance": guidance}
                images[rows] = teacher.generate(noise[rows].to(device), labels[rows].to(device),
                                                **options).float().cpu()
        labels[free] = self.net.null_label
        return {"noise": noise, "images": images, "labels": labels}

    def _pair_settings(self) -> dict[str, object]:
        """What decides the pairs beside the teacher's weights and the count and seed: the
        student's classes and label dropout, and the teacher's sampling options."""
        assert self.teacher is not None
        config = getattr(self.teacher.model, "config_dict", None)
        sampling = config() if callable(config) else {}
        return {"num_classes": self.config.num_classes, "label_dropout": self.config.label_dropout,
                "teacher": {k: v for k, v in sampling.items() if k in _TEACHER_SAMPLING}}

    # -- training -----------------------------------------------------------------------------

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        optimizers = {"student": adam(self.net.parameters(), self.config.lr)}
        if self.config.adversarial:
            optimizers["critic"] = adam(self.critic.parameters(), self.config.critic_lr,
                                        (0.5, 0.999))
        return optimizers

    def training_step(self, batch: Batch, step: StepContext) -> dict[str, torch.Tensor]:
        """One step on a batch of the teacher's pairs, as many as ``batch`` has images: the
        regression, and with ``adversarial`` the critic's step on the batch's real images
        against the one-jump images, then the critic's loss on those added to the student's."""
        cfg = self.config
        pairs = step.teacher_samples(self._make_pairs, count=cfg.pairs, chunk_size=cfg.pair_chunk,
                                     seed=cfg.pair_seed, name="pairs", settings=self._pair_settings())
        n = batch.images.shape[0]
        device = batch.images.device
        rows = torch.randint(0, cfg.pairs, (n,))
        noise = pairs["noise"][rows].to(device)
        target = pairs["images"][rows].to(device) * 2 - 1
        labels = pairs["labels"][rows].to(device) if cfg.num_classes else None
        # the starts of 1, 2 and 4 even steps: the whole jump for jump_share of the batch,
        # else a quarter, a half or three quarters of the way
        t = torch.randint(1, 4, (n,), device=device) / 4
        t = torch.where(torch.rand(n, device=device) < cfg.jump_share, torch.zeros_like(t), t)
        xt = interpolate(target, noise, t)
        predicted = self.net(xt, t, labels).float()
        error = predicted - (target - noise).float()
        if cfg.loss == "mse":
            loss = error.pow(2).mean()
        elif cfg.loss == "l1":
            loss = error.abs().flatten(1).sum(1).mean() / error[0].numel() ** 0.5
        else:
            c = 0.00054 * error[0].numel() ** 0.5
            loss = ((error.pow(2).flatten(1).sum(1) + c * c).sqrt() - c).mean()
        metrics = {"loss": loss.detach()}
        if cfg.adversarial:
            # the image each row's one jump lands on, judged beside the data's real images
            fake = xt.float() + (1 - t)[:, None, None, None] * predicted
            real_labels = cfg.training_labels(batch, "distilled-flow")
            d_loss = critic_loss(self.critic, batch.images * 2 - 1, fake, real_labels, labels)
            step.optimize(d_loss, "critic")
            g_loss = generator_loss(self.critic, fake, labels)
            loss = loss + cfg.adversarial * g_loss
            metrics.update(d_loss=d_loss.detach(), g_loss=g_loss.detach())
        step.optimize(loss, "student")
        return metrics

    # -- sampling -----------------------------------------------------------------------------

    @torch.no_grad()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None, *,
                 steps: int | None = None, guidance: float | None = None,
                 chunk: int | None = None) -> torch.Tensor:
        """Carry the noise ``z`` to images in ``[0, 1]`` in ``steps`` Euler steps.

        Args:
            z: ``N×C×H×W`` start noise (on the model's device).
            labels: ``N`` classes of a conditional model; ``None``: the classes in turn.
            steps: Steps (default: the config's ``sample_steps``).
            guidance: Extra classifier-free guidance (default: the config's; 1: none).
            chunk: Images carried at a time (see :func:`genzoo.sampling.generate_in_chunks`).

        Raises:
            ValueError: fewer than one step, a negative guidance, or labels for an
                unconditional model.
        """
        cfg = self.config
        steps = cfg.sample_steps if steps is None else int(steps)
        guidance = cfg.guidance if guidance is None else float(guidance)
        if guidance < 0:
            raise ValueError(f"guidance must be 0 or more, got {guidance}")
        if guidance != 1 and cfg.num_classes and not cfg.label_dropout:
            raise ValueError("guidance needs a student trained with label_dropout above 0 (the "
                             "teacher's unconditional pairs); this one has none")
        labels = class_labels(labels, z.shape[0], cfg.num_classes, z.device)
        return generate_in_chunks(self._jump, z, labels, chunk=chunk, steps=steps,
                                  guidance=guidance)

    def _jump(self, z: torch.Tensor, labels: torch.Tensor | None, *, steps: int,
              guidance: float) -> torch.Tensor:
        def velocity(x: torch.Tensor, t: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
            return guided(self.net, x, t, labels, guidance)

        return (jump(velocity, z, steps) + 1) / 2


