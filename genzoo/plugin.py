"""The public API for model plugins: the one module a plugin imports from genzoo.

A model plugin (a distribution with a ``genzoo`` entry point, see :doc:`/guide/write-a-plugin`)
takes everything it needs from genzoo here, and nothing from genzoo's other modules::

    from genzoo.plugin import GenerativeModel, StepContext, Batch, adam, hookimpl

    @hookimpl
    def genzoo_register_models(register):
        register("my-model", "my_plugin.model:MyModel", summary="What it is, in one line")

Every name below is defined elsewhere in genzoo and re-exported here unchanged (the same
object: ``genzoo.plugin.GenerativeModel is genzoo.GenerativeModel``), so a plugin written
against this module works with code that uses the other import paths. genzoo's own shipped
plugins import nothing else of genzoo, and a test holds them to it.

**The plugin API version.** ``PLUGIN_API_VERSION`` (the number genzoo's plugin loader
checks against a plugin module's ``GENZOO_PLUGIN_API`` attribute) covers exactly the names in
``genzoo.plugin.__all__``, with their signatures and meaning, and the hooks of
:mod:`genzoo.hookspecs`. Adding a name, or an optional keyword argument, is compatible and keeps
the version; removing or renaming a name, or changing what one takes, returns or means, makes a
new version, which the loader refuses to mix with plugins written for the old one. Anything
imported from another genzoo module is outside this promise and may change in any release.

The names, each linked to its documentation where genzoo defines it:

* declaring the plugin: :data:`~genzoo.hookimpl`, :data:`~genzoo.plugin.PLUGIN_API_VERSION`;
* the model and the protocols it satisfies: :class:`~genzoo.GenerativeModel`,
  :func:`~genzoo.config.added_option` (a config option that models saved before it lack),
  :func:`~genzoo.sampling.eval_mode`, :class:`~genzoo.Generator`,
  :class:`~genzoo.IterativeGenerator`, :class:`~genzoo.Encoder`, :class:`~genzoo.Trainer`,
  :class:`~genzoo.DensityModel`;
* students and their teachers: :class:`~genzoo.Student` (a model that trains against a frozen
  teacher), :class:`~genzoo.teacher.Teacher`;
* training: :class:`~genzoo.Batch`, :class:`~genzoo.StepContext`, :func:`~genzoo.optim.adam`,
  :class:`~genzoo.OptimizerSpec`, :func:`~genzoo.runner.optimization.ema_decay`,
  :func:`~genzoo.runner.optimization.lerp_towards`;
* sampling: :func:`~genzoo.sampling.sampling_option`, :func:`~genzoo.sampling.sampling_progress`,
  :func:`~genzoo.sampling.generate_in_chunks`, :func:`~genzoo.sampling.check_sampling_steps`,
  :func:`~genzoo.sampling.sample_generator`,
  :data:`~genzoo.sampling.MAX_SAMPLING_STEPS`;
* class labels: :func:`~genzoo.labels.batch_labels`, :func:`~genzoo.labels.cycle_labels`,
  :func:`~genzoo.labels.one_hot`, :func:`~genzoo.labels.class_labels`,
  :func:`~genzoo.labels.drop_labels`;
* shared networks: :class:`~genzoo.nn.UNet`, :class:`~genzoo.nn.UNetOptions` (the UNet
  families' shared config fields), :class:`~genzoo.nn.UNetSampling` (their models' shared
  ``sampling_steps`` and ``sample_latent``), :func:`~genzoo.nn.check_unet_options`,
  :func:`~genzoo.nn.path.interpolate` and :func:`~genzoo.nn.path.sample_times` (the straight
  noise-to-data path and its training times),
  :func:`~genzoo.nn.guided`, :func:`~genzoo.shapes.conv_plan`;
* encoders and likelihoods: :class:`~genzoo.Posterior`, :class:`~genzoo.LogLikelihood`,
  :func:`~genzoo.metrics.likelihood.dequantize`, :func:`~genzoo.metrics.bits_per_dim`;
* errors: :class:`~genzoo.GenzooError`, :class:`~genzoo.ConfigError`,
  :class:`~genzoo.BatchError`.

Importing this module loads what ``import genzoo`` loads plus the small modules above; not the
data sets, metrics, reports or the command line.
"""

from __future__ import annotations

from .config import added_option
from .density import bits_per_dim, dequantize
from .errors import BatchError, ConfigError, GenzooError
from .hookspecs import hookimpl
from .labels import batch_labels, class_labels, cycle_labels, drop_labels, one_hot
from .model import GenerativeModel
from .nn import (UNet, UNetOptions, UNetSampling, check_unet_options, guided, interpolate,
                 sample_times)
from .optim import OptimizerSpec, adam
from .plugins import PLUGIN_API_VERSION
from .protocols import (
    Batch,
    DensityModel,
    Encoder,
    Generator,
    IterativeGenerator,
    LogLikelihood,
    Posterior,
    StepContext,
    Student,
    Trainer,
)
from .runner.optimization import ema_decay, lerp_towards
from .sampling import (MAX_SAMPLING_STEPS, check_sampling_steps, eval_mode, generate_in_chunks,
                       sample_generator, sampling_option, sampling_progress)
from .shapes import conv_plan
from .teacher import Teacher

__all__ = [
    # declaring the plugin
    "hookimpl",
    "PLUGIN_API_VERSION",
    # the model and its protocols
    "GenerativeModel",
    "added_option",
    "eval_mode",
    "Generator",
    "IterativeGenerator",
    "Encoder",
    "Trainer",
    "DensityModel",
    # students and their teachers
    "Student",
    "Teacher",
    # training
    "Batch",
    "StepContext",
    "adam",
    "OptimizerSpec",
    "ema_decay",
    "lerp_towards",
    # sampling
    "sampling_option",
    "sampling_progress",
    "generate_in_chunks",
    "check_sampling_steps",
    "sample_generator",
    "MAX_SAMPLING_STEPS",
    # class labels
    "batch_labels",
    "cycle_labels",
    "one_hot",
    "class_labels",
    "drop_labels",
    # shared networks
    "UNet",
    "UNetOptions",
    "UNetSampling",
    "check_unet_options",
    "guided",
    "interpolate",
    "sample_times",
    "conv_plan",
    # encoders and likelihoods
    "Posterior",
    "LogLikelihood",
    "dequantize",
    "bits_per_dim",
    # errors
    "GenzooError",
    "ConfigError",
    "BatchError",
]
