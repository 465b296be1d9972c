"""The shared runner: one training loop for every model, whatever its plugin.

Its modules, each owning one kind of data: :mod:`.options` (the run options),
:mod:`.loop` (``fit``, the training loop, the step lent to the model, the run's hooks),
:mod:`.state` (the run state checkpoints hold, resumption, random states, the data order),
:mod:`.outputs` (logs, grids, progress, the report), :mod:`.trackers` (MLflow, Weights &
Biases), :mod:`.runfolder` (claiming the run folder), :mod:`.optimization` (optimizers,
schedules, weight EMA) and :mod:`.processes` (several processes: DDP, FSDP2 and sharded
checkpoints).
"""

from ..devices import Precision, resolve_device
from .loop import LAST_CHECKPOINT, FitResult, RunInfo, Step, fit
from .options import RunOptions
from .processes import World
from .state import RunState, capture_rng, restore_rng, seed_everything

__all__ = [
    "fit",
    "RunOptions",
    "RunInfo",
    "FitResult",
    "RunState",
    "LAST_CHECKPOINT",
    "Step",
    "World",
    "Precision",
    "resolve_device",
    "seed_everything",
    "capture_rng",
    "restore_rng",
]
