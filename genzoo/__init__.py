"""genzoo: a plugin-based zoo of generative models on PyTorch.

Build any registered model by name, train it on any iterable of image batches, sample from it::

    import genzoo

    model = genzoo.build("vae")
    model.fit(loader, epochs=5, out="runs/vae")
    images = model.sample(64)
"""

from ._version import __version__
from .build import broken_plugins, build, list_models, list_pretrained, model_infos
from .checkpoint import load
from .errors import (
    BatchError,
    CheckpointError,
    ConfigError,
    DeviceError,
    DuplicateModelError,
    GenzooError,
    NonFiniteLossError,
    PluginError,
    PrecisionError,
    RunFolderError,
    UnknownModelError,
)
from .hookspecs import hookimpl
from .hub import from_pretrained
from .model import GenerativeModel
from .plugins import register_plugin, reload_plugins, unregister_plugin
from .optim import OptimizerSpec
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
from .registry import BrokenPlugin, ModelInfo, PretrainedInfo
from .runner import FitResult, RunOptions

__all__ = [
    "__version__",
    "build",
    "load",
    "from_pretrained",
    "list_models",
    "list_pretrained",
    "model_infos",
    "broken_plugins",
    "ModelInfo",
    "PretrainedInfo",
    "BrokenPlugin",
    "hookimpl",
    "register_plugin",
    "unregister_plugin",
    "reload_plugins",
    "GenerativeModel",
    "Generator",
    "IterativeGenerator",
    "Encoder",
    "Trainer",
    "StepContext",
    "Student",
    "OptimizerSpec",
    "Batch",
    "Posterior",
    "DensityModel",
    "LogLikelihood",
    "RunOptions",
    "FitResult",
    "GenzooError",
    "UnknownModelError",
    "ConfigError",
    "DuplicateModelError",
    "PluginError",
    "BatchError",
    "CheckpointError",
    "RunFolderError",
    "DeviceError",
    "PrecisionError",
    "NonFiniteLossError",
]
