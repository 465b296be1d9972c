"""MeanFlow (Geng et al. 2025): a one-step generator trained from scratch, with no teacher.

Flow matching learns the instantaneous velocity ``v(x_t, t)`` of the straight path from noise
(``t = 0``) to data (``t = 1``) and must integrate it in many small steps. MeanFlow learns the
*average* velocity over a jump from ``t`` to a later ``s``,
``u(x_t, t, s) = 1/(s - t) ∫_t^s v(x_τ, τ) dτ``, so that ``x_s = x_t + (s - t) u``: one jump
from noise at ``t = 0`` to ``s = 1`` is an image. Differentiating ``(s - t) u = ∫_t^s v`` in
``t`` gives the identity it trains on,

    ``u(x_t, t, s) = v(x_t, t) + (s - t) d/dt u(x_t, t, s)``,

where ``d/dt u = v ∂_x u + ∂_t u`` is one forward-mode derivative of the network
(:func:`torch.func.jvp`) along the path. The right side, with the path's velocity ``x - z`` for
``v`` and the derivative held constant, is the regression target; at ``s = t`` it is plain
flow matching. The network is a :class:`genzoo.nn.UNet` with two time inputs (``t`` and
``s - t``), whose time features are not sped up (``time_scale=1``): the derivative in ``t``
would multiply the usual ones' by up to 1000 and drown the target.

Why MeanFlow rather than consistency training or shortcut models: it has the best one-step
results of the three (ImageNet 256: FID 3.4 in one step, against shortcut models' 10.6 and
iCT's 34), needs no target network, EMA teacher or discretisation schedule, and bakes
classifier-free guidance into the field at training time (``guidance``), so a guided image
still costs one network evaluation.

The derivative is taken only for the ``jump_share`` of a batch whose jump is not empty, without
building a graph; even so a step costs about two and a half times flow matching's on a CPU
(0.29 s against 0.11 s for a batch of 64 at MNIST's size in float32 on 2 cores with native
bfloat16, where bfloat16 takes 0.23 s against 0.09 s: ``benchmarks/precision.py``). The loss
is adaptively weighted (``1 / (error + c)``, the paper's ``p = 1``), which the paper found
best for one step.

The one jump from noise to data, which one-step sampling takes, is the jump training draws
least often. ``shortcut`` trains it directly: each step, on fresh noise a quarter as many as
the batch's images, the one-jump image is pulled onto the model's own two half-jumps from the
same noise, held constant (the self-consistency of shortcut models, Frans et al. 2024), tying
the one step to the better two. It costs three network passes over those images, two of them
without a graph.

The average velocity over a jump is learnt from the instantaneous one (the identity above
holds it to ``v``), and learns slowly while that is still unformed (Kim et al. 2025,
"Understanding, Accelerating, and Improving MeanFlow Training"). ``flow_epochs`` trains the
instantaneous velocity alone first, in flow matching's cheaper steps, then jumps.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import partial

import torch
from torch.func import jvp

from genzoo.plugin import (
    MAX_SAMPLING_STEPS, Batch, GenerativeModel, StepContext, UNetOptions, UNetSampling, adam,
    added_option, class_labels, generate_in_chunks, interpolate, sample_times, sampling_option,
)

from .jumps import jump

__all__ = ["MeanFlowConfig", "MeanFlow"]


@dataclass(frozen=True)
class MeanFlowConfig(UNetOptions):
    """MeanFlow's options, after the UNet's (:class:`~genzoo.nn.UNetOptions`).

    Attributes:
        jump_share: Share of each batch trained on jumps (``s > t``); the rest on the
            instantaneous velocity (``s = t``, flow matching). The paper's ImageNet runs used
            0.25; a short run learns the long jump one step needs sooner with more. 0.5 was the
            default before (a run folder begun with it resumes with it).
        time_mean: Mean of the logit-normal the two times are drawn from (in the paper's
            convention, noise at 1: negative favours times near the data).
        time_std: Its standard deviation.
        guidance: Classifier-free guidance baked into the field during training (1: none);
            a conditional model then samples guided images in one evaluation.
        adaptive_power: The power ``p`` of the loss weight ``1 / (error + 1e-3)^p`` (0: plain
            mean squared error).
        sample_steps: Jumps when sampling (``steps=`` overrides it); 1 is what it is for.
        lr: Adam's learning rate. Three epochs are short: 4e-3 learns the long jump sooner than
            1e-3 did (the default before, which a run folder begun with it resumes with).
        shortcut: Weight of the squared distance from one-jump images (from fresh noise, a
            quarter as many as the batch's images) to the model's own two half-jumps from the
            same noise (held constant); 0: none, as models saved before it had.
        flow_epochs: Epochs, from the first, that train the instantaneous velocity alone
            (flow matching: no jump, no shortcut) before the jumps begin. Such a step costs
            under half a jumping one, and the long jumps learn faster on a velocity already
            formed (Kim et al. 2025). 0: jumps from the first step. A run of no more epochs
            than this trains no jump, and is warned (one that ``max_steps`` ends sooner is not).
    """

    jump_share: float = added_option(0.75, absent=0.5)
    time_mean: float = -0.4
    time_std: float = 1.0
    guidance: float = 1.0
    adaptive_power: float = 1.0
    sample_steps: int = sampling_option(1, minimum=1, maximum=MAX_SAMPLING_STEPS)
    lr: float = added_option(4e-3, absent=1e-3)
    shortcut: float = added_option(1.0, absent=0.0)
    flow_epochs: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.jump_share <= 1:
            raise ValueError(f"jump_share must be in [0, 1], got {self.jump_share}")
        for name, value, ok, says in (
                ("time_std", self.time_std, self.time_std > 0, "positive"),
                ("guidance", self.guidance, self.guidance >= 1, "1 or more"),
                ("adaptive_power", self.adaptive_power, self.adaptive_power >= 0, "0 or more"),
                ("sample_steps", self.sample_steps, self.sample_steps >= 1, "at least 1"),
                ("lr", self.lr, self.lr > 0, "positive"),
                ("shortcut", self.shortcut, self.shortcut >= 0, "0 or more"),
                ("flow_epochs", self.flow_epochs, self.flow_epochs >= 0, "0 or more")):
            if not ok:
                raise ValueError(f"{name} must be {says}, got {value}")
        if self.guidance != 1 and not (self.num_classes and self.label_dropout):
            raise ValueError("guidance needs a class-conditional model that also learns the "
                             "unconditional field: set num_classes and a label_dropout above 0")


class MeanFlow(UNetSampling, GenerativeModel):
    """MeanFlow: a :class:`~genzoo.Generator` and :class:`~genzoo.Trainer` that samples in one
    network evaluation (or more: ``steps=2`` jumps twice).

    Images in ``[0, 1]`` are scaled to ``[-1, 1]``. The latent is the start noise; sampling is
    deterministic given it.

    Args:
        config: A :class:`MeanFlowConfig`; or pass its fields as keyword arguments.

    Example::

        model = genzoo.build("meanflow", num_classes=10, guidance=1.25)
        model.fit(loader, epochs=5)
        sevens = model.sample(16, labels=7)   # one network evaluation
    """

    Config = MeanFlowConfig
    config: MeanFlowConfig

    def __init__(self, config: MeanFlowConfig | None = None, /, **overrides: object) -> None:
        super().__init__(config, **overrides)
        self.net = self.config.build_unet(time_inputs=2, time_scale=1.0)
        self._warned_no_jumps = False

    def mean_velocity(self, x: torch.Tensor, t: torch.Tensor, s: torch.Tensor,
                      labels: torch.Tensor | None = None) -> torch.Tensor:
        """The network's average velocity at ``x`` from times ``t`` to ``s``.

        Args:
            x: ``N×C×H×W`` points (in ``[-1, 1]`` scale).
            t: ``N`` start times.
            s: ``N`` end times.
            labels: ``N`` classes of a conditional model (the null class: unconditional), or
                ``None`` (unconditional).
        """
        return self.net(x, torch.stack([t, s - t], dim=1), labels)

    # -- training -----------------------------------------------------------------------------

    def _times(self, n: int, device: torch.device,
               jump_share: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Start and end times ``t <= s``: two logit-normal draws, equal for all but a
        ``jump_share`` of the batch."""
        cfg = self.config
        a = sample_times(n, "logit-normal", device, mean=cfg.time_mean, std=cfg.time_std)
        b = sample_times(n, "logit-normal", device, mean=cfg.time_mean, std=cfg.time_std)
        jumps = torch.rand(n, device=device) < jump_share
        b = torch.where(jumps, b, a)
        # the paper's times run from data (0) to noise (1); ours the other way
        return 1 - torch.maximum(a, b), 1 - torch.minimum(a, b)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"meanflow": adam(self.parameters(), self.config.lr)}

    @torch.no_grad()
    def target(self, xt: torch.Tensor, t: torch.Tensor, s: torch.Tensor, v: torch.Tensor,
               labels: torch.Tensor | None = None) -> torch.Tensor:
        """The regression target of :meth:`mean_velocity` at ``xt`` from ``t`` to ``s``.

        Args:
            xt: ``N`` points on the path at times ``t``.
            t: ``N`` start times.
            s: ``N`` end times, ``s >= t``.
            v: The path's velocity at ``xt`` (``x - noise``).
            labels: ``N`` classes (the null class for an unconditional row), or ``None``.

        Returns:
            ``v + (s - t) d/dt u(xt, t, s)``, the derivative along the path with ``s`` held
            (forward mode, only for rows with ``s > t``); with ``guidance`` the velocity of a
            conditional row is first the guided ``guidance v + (1 - guidance) u(xt, t, t | null)``.
        """
        cfg = self.config
        if cfg.guidance != 1 and labels is not None:
            free = self.mean_velocity(xt, t, t, None).float()
            guided = cfg.guidance * v + (1 - cfg.guidance) * free
            v = torch.where((labels != self.net.null_label)[:, None, None, None], guided, v)
        target = v.clone()
        rows = (s > t).nonzero().flatten()
        if rows.numel():
            # one row alone fails in forward mode under bfloat16 autocast ("expected scalar
            # type Float but found BFloat16", torch 2.14 on a CPU): take it twice
            taken = rows.repeat(2) if rows.numel() == 1 else rows
            sr, lr = s[taken], labels[taken] if labels is not None else None
            _, dudt = jvp(lambda x, time: self.mean_velocity(x, time, sr, lr),
                          (xt[taken], t[taken]), (v[taken], torch.ones_like(sr)))
            dudt = dudt[:rows.numel()].float()
            target[rows] = v[rows] + (s[rows] - t[rows])[:, None, None, None] * dudt
        return target

    def training_step(self, batch: Batch, step: StepContext) -> dict[str, torch.Tensor]:
        """One step: the adaptively weighted regression on :meth:`target`, and with
        ``shortcut`` one-jump images from fresh noise pulled onto the model's own two
        half-jumps; in the first ``flow_epochs`` epochs, the regression without jumps alone."""
        cfg = self.config
        x = batch.images * 2 - 1
        labels = cfg.training_labels(batch, "meanflow")
        jumping = step.epoch >= cfg.flow_epochs
        epochs = getattr(step, "epochs", None)  # a StepContext of an older genzoo has none
        if epochs is not None and cfg.flow_epochs >= epochs and not self._warned_no_jumps:
            self._warned_no_jumps = True
            run = f"{epochs} epoch{'s' if epochs != 1 else ''}"
            warnings.warn(f"flow_epochs={cfg.flow_epochs} in a run of {run} trains no "
                          "jump, so one step does not yet make images; train more epochs than "
                          "flow_epochs (a resume to more epochs goes on with the jumps)", stacklevel=2)
        t, s = self._times(x.shape[0], x.device, cfg.jump_share if jumping else 0.0)
        noise = torch.randn_like(x, dtype=torch.float32)
        xt = interpolate(x, noise, t)
        target = self.target(xt, t, s, x - noise, labels)
        u = self.mean_velocity(xt, t, s, labels).float()
        error = (u - target).pow(2).flatten(1).mean(1)
        weight = (error.detach() + 1e-3).pow(-cfg.adaptive_power)
        loss = (weight * error).mean()
        metrics = {"loss": loss.detach(), "mse": error.detach().mean()}
        if cfg.shortcut and jumping:
            # the one-step sampler's images from fresh noise, pulled onto its two half-jumps
            k = max(1, x.shape[0] // 4)
            z = torch.randn_like(noise[:k])
            lk = labels[:k] if labels is not None else None
            velocity = partial(self.mean_velocity, labels=lk)
            one_jump = jump(velocity, z, 1, progress=False)
            with torch.no_grad():
                two_jumps = jump(velocity, z, 2, progress=False)
            gap = (one_jump - two_jumps).pow(2).mean()
            loss = loss + cfg.shortcut * gap
            metrics["shortcut"] = gap.detach()
        step.optimize(loss, "meanflow")
        return metrics

    # -- sampling -----------------------------------------------------------------------------

    @torch.no_grad()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None, *,
                 steps: int | None = None, chunk: int | None = None) -> torch.Tensor:
        """Carry the noise ``z`` to images in ``[0, 1]`` in ``steps`` jumps.

        Args:
            z: ``N×C×H×W`` start noise (on the model's device).
            labels: ``N`` classes of a conditional model; ``None``: the classes in turn.
            steps: Jumps (default: the config's ``sample_steps``, 1).
            chunk: Images carried at a time (see :func:`genzoo.sampling.generate_in_chunks`).

        Raises:
            ValueError: fewer than one step, or labels for an unconditional model.
        """
        cfg = self.config
        steps = cfg.sample_steps if steps is None else int(steps)
        labels = class_labels(labels, z.shape[0], cfg.num_classes, z.device)
        return generate_in_chunks(self._jump, z, labels, chunk=chunk, steps=steps)

    def _jump(self, z: torch.Tensor, labels: torch.Tensor | None, *, steps: int) -> torch.Tensor:
        return (jump(partial(self.mean_velocity, labels=labels), z, steps) + 1) / 2
