"""Experiment trackers beside TensorBoard: MLflow and Weights & Biases.

A tracker gets what the run folder gets, as the run writes it: the settings (as parameters)
when the run starts, the scalars of each logging interval and epoch (``step/*`` and
``epoch/*``, as TensorBoard has them), the sample grids, and when the run ends its
``run.json``, ``train.toml`` and ``checkpoints/eval.json`` (where they exist) and the exported
model folder (a finished run only); then it marks the run finished, failed or killed, as it
ended.

The run comes first. A tracker that cannot start (the server does not answer, a bad URI, no
credentials) stops the run before its first step with one line, since a run that is meant to
be tracked and is not would be found out only at its end. Once started, any error of a
tracker's client (the server gone, the network down) costs one warning, ``"MLflow tracking
stopped: ...; the run goes on"``, and the tracker stops; training never does.

Each tracker records its run in the run folder's ``run.json`` (``"trackers"``), so that a
resumed run continues the same tracker run (without the scalars of the steps it repeats, which
that run holds already: ``Trackers.logged_through``), and ``genzoo eval`` of the run's
checkpoint logs its ``eval.json`` to the MLflow run (:func:`log_to_recorded_runs`).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from ..errors import GenzooError, TrackerError
from ..extras import require

__all__ = ["Tracker", "Trackers", "MlflowTracker", "WandbTracker", "Status", "make_trackers",
           "run_record", "recorded_trackers", "log_to_recorded_runs", "MLFLOW_EXPERIMENT"]

#: How a run ended, in MLflow's words.
Status = Literal["FINISHED", "FAILED", "KILLED"]

#: The MLflow experiment a run is logged to, unless ``MLFLOW_EXPERIMENT_NAME`` names another.
MLFLOW_EXPERIMENT = "genzoo"

#: MLflow's HTTP retry settings while genzoo calls it, unless the environment sets them: MLflow's
#: own (7 retries, backoff factor 2, 120 s timeout) would hold training for minutes once the
#: server is gone, before the tracker stops.
_MLFLOW_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
#: MLflow takes at most this many parameters in one call.
_PARAMS_PER_CALL = 100


class Tracker:
    """One experiment tracker, as the runner calls it: :meth:`start`, then any of the ``log_*``
    methods, then :meth:`finish`. Errors propagate: :class:`Trackers` turns them into a warning.

    Attributes:
        name: How messages name it (``"MLflow"``).
        key: Its entry in ``run.json``'s ``"trackers"`` (``"mlflow"``).
        resumed: Whether :meth:`start` continued the tracker run of the run this one resumes
            (which then holds that run's steps already).
    """

    name = "tracker"
    key = "tracker"
    resumed = False

    def start(self, params: Mapping[str, Any],
              previous: Mapping[str, Any] | None) -> dict[str, Any]:
        """Open the tracker's run and log ``params``.

        Args:
            params: The run's settings by name, as plain JSON values.
            previous: What this tracker recorded in ``run.json`` for the run this one resumes,
                or ``None``: a resumed run continues that tracker run where it can.

        Returns:
            What ``run.json`` records of the tracker run (JSON-ready), for a later resume.
        """
        raise NotImplementedError

    def log_metrics(self, values: Mapping[str, float], step: int) -> None:
        """Log scalars at ``step``."""
        raise NotImplementedError

    def log_image(self, path: Path, step: int) -> None:
        """Log a sample grid written at ``step``."""
        raise NotImplementedError

    def log_file(self, path: Path, folder: str) -> None:
        """Log a file of the run (``run.json``, ``eval.json``) under ``folder``."""
        raise NotImplementedError

    def log_model(self, folder: Path) -> None:
        """Log the exported model folder."""
        raise NotImplementedError

    def finish(self, status: Status, exit_code: int) -> None:
        """Mark the tracker run as ended with ``status`` (``exit_code``: the process's)."""
        raise NotImplementedError


class Trackers:
    """The run's trackers: each call goes to every tracker still on, and a tracker whose call
    fails warns once and is left out from then on.

    Attributes:
        logged_through: On a resume, the last step the interrupted runs logged (0: none). A
            tracker that continues their tracker run (its ``resumed``) already holds the
            scalars and grids of the steps up to it: it is not sent them again, so it holds
            each step once (with the values an uninterrupted run logs where training is
            deterministic, as the resume repeats those steps exactly).
    """

    def __init__(self, trackers: list[Tracker]) -> None:
        self.trackers = list(trackers)
        self.step = 0
        self.logged_through = 0

    def __bool__(self) -> bool:
        return bool(self.trackers)

    def start(self, params: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
        """Start each tracker (see :meth:`Tracker.start`); return ``run.json``'s entries.

        Raises:
            TrackerError: a tracker could not start (those started before it are marked
                failed).
        """
        records: dict[str, Any] = {}
        for index, tracker in enumerate(self.trackers):
            try:
                records[tracker.key] = tracker.start(params, previous.get(tracker.key))
            except Exception as err:  # the client's errors are its own: say them in one line
                self.trackers = self.trackers[:index]
                self.finish("FAILED", 1)
                raise TrackerError(f"{tracker.name} tracking could not start: {_reason(err)}; "
                                   f"{_START_HINTS.get(tracker.key, '')}") from err
        return records

    def log_metrics(self, values: Mapping[str, float], step: int) -> None:
        """Log scalars at ``step`` to every tracker (see ``logged_through``)."""
        self.step = max(self.step, step)
        if values:
            self._each("log_metrics", values, step, repeats=step <= self.logged_through)

    def log_image(self, path: Path) -> None:
        """Log a sample grid, at the last step logged (see ``logged_through``)."""
        self._each("log_image", path, self.step, repeats=self.step <= self.logged_through)

    def log_file(self, path: Path, folder: str) -> None:
        """Log a file under ``folder``, when it exists."""
        if path.is_file():
            self._each("log_file", path, folder)

    def log_model(self, folder: Path) -> None:
        """Log an exported model folder."""
        self._each("log_model", folder)

    def finish(self, status: Status, exit_code: int) -> None:
        """Mark every tracker run as ended; no tracker is called after this."""
        self._each("finish", status, exit_code)
        self.trackers = []

    def stop_with_warning(self, tracker: Tracker, err: BaseException) -> None:
        """Warn that ``tracker`` stopped because of ``err``, and leave it out."""
        if tracker in self.trackers:
            self.trackers.remove(tracker)
        warnings.warn(f"{tracker.name} tracking stopped: {_reason(err)}; the run goes on",
                      RuntimeWarning, stacklevel=4)

    def _each(self, method: str, *args: Any, repeats: bool = False) -> None:
        """Call ``method`` of every tracker; with ``repeats`` (a step the interrupted run
        logged), of those that do not hold it already."""
        for tracker in list(self.trackers):
            if repeats and tracker.resumed:
                continue
            try:
                getattr(tracker, method)(*args)
            except Exception as err:  # the server gone, the network down: never the run
                self.stop_with_warning(tracker, err)


_START_HINTS = {
    "mlflow": "check that the tracking server answers at that URI (mlflow server), or leave out "
              "--mlflow (mlflow=)",
    "wandb": "check the W&B login (wandb login, WANDB_API_KEY) or set WANDB_MODE=offline, or "
             "leave out --wandb (wandb=)",
}


def _reason(err: BaseException) -> str:
    """An error in one line (a client's messages run over several)."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 300 else text[:297] + "..."


@contextlib.contextmanager
def _mlflow_http() -> Iterator[None]:
    """MLflow's HTTP settings of :data:`_MLFLOW_HTTP` for the calls inside, where the environment
    does not set them."""
    added = [name for name in _MLFLOW_HTTP if name not in os.environ]
    for name in added:
        os.environ[name] = _MLFLOW_HTTP[name]
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


class MlflowTracker(Tracker):
    """Logs the run to MLflow through :class:`mlflow.MlflowClient`.

    Args:
        uri: The tracking URI: a server (``http://HOST:PORT``) or a local store
            (``sqlite:///mlflow.db``, ``file:./mlruns``).
        run_name: The MLflow run's name (the run folder's name).
        folder: The run folder, recorded as the tag ``genzoo.run_folder``.

    Raises:
        MissingExtraError: mlflow is not installed.
    """

    name = "MLflow"
    key = "mlflow"

    def __init__(self, uri: str, run_name: str, folder: Path) -> None:
        mlflow = require("mlflow", "mlflow", "mlflow= (--mlflow)")
        self.uri, self.run_name, self.folder = uri, run_name, folder
        self.client = mlflow.MlflowClient(tracking_uri=uri)
        self.run_id: str | None = None

    def start(self, params: Mapping[str, Any],
              previous: Mapping[str, Any] | None) -> dict[str, Any]:
        with _mlflow_http():
            run = self._previous_run(previous)
            logged: dict[str, str] = {}
            if run is not None:  # the resumed run's own: continue it
                self.run_id = run.info.run_id
                logged = dict(run.data.params)
                self.client.update_run(self.run_id, status="RUNNING")
                self.resumed = True
            else:
                experiment = self._experiment()
                run = self.client.create_run(experiment, run_name=self.run_name,
                                             tags={"genzoo.run_folder": str(self.folder)})
                self.run_id = run.info.run_id
            self._log_params({k: v if isinstance(v, str) else json.dumps(v)
                              for k, v in params.items()}, logged)
        return {"uri": self.uri, "run_id": self.run_id, "experiment_id": run.info.experiment_id}

    def _previous_run(self, previous: Mapping[str, Any] | None) -> Any:
        if not previous or previous.get("uri") != self.uri or not previous.get("run_id"):
            return None
        from mlflow.exceptions import MlflowException

        try:
            run = self.client.get_run(str(previous["run_id"]))
        except MlflowException:  # deleted for good, or another store at the same URI
            return None
        return run if run.info.lifecycle_stage == "active" else None

    def _experiment(self) -> str:
        from mlflow.exceptions import MlflowException

        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or MLFLOW_EXPERIMENT
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        try:
            return str(self.client.create_experiment(name))
        except MlflowException:  # created meanwhile by another run
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return str(found.experiment_id)

    def _log_params(self, params: Mapping[str, str], logged: Mapping[str, str]) -> None:
        """Log the parameters not logged yet; a resume's changed settings (parameters cannot
        change in MLflow) go to the tag ``genzoo.resumed_with``."""
        from mlflow.entities import Param

        new = [Param(k, v) for k, v in params.items() if k not in logged]
        for start in range(0, len(new), _PARAMS_PER_CALL):
            assert self.run_id is not None
            self.client.log_batch(self.run_id, params=new[start:start + _PARAMS_PER_CALL])
        changed = [f"{k}={v}" for k, v in params.items() if k in logged and logged[k] != v]
        if changed and self.run_id is not None:
            self.client.set_tag(self.run_id, "genzoo.resumed_with", ", ".join(changed)[:5000])

    def log_metrics(self, values: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        with _mlflow_http():
            self.client.log_batch(self._id, metrics=[Metric(k, float(v), now, step)
                                                     for k, v in values.items()])

    def log_image(self, path: Path, step: int) -> None:
        self.log_file(path, "grids")

    def log_file(self, path: Path, folder: str) -> None:
        with _mlflow_http():
            self.client.log_artifact(self._id, str(path), folder)

    def log_model(self, folder: Path) -> None:
        with _mlflow_http():
            self.client.log_artifacts(self._id, str(folder), "model")

    def finish(self, status: Status, exit_code: int) -> None:
        with _mlflow_http():
            self.client.set_terminated(self._id, status)

    @property
    def _id(self) -> str:
        if self.run_id is None:
            raise GenzooError("the MLflow run was not started")
        return self.run_id


class WandbTracker(Tracker):
    """Logs the run to Weights & Biases through :func:`wandb.init`.

    Where it logs is W&B's to say: online with the login of ``wandb login`` (or
    ``WANDB_API_KEY``), or offline with ``WANDB_MODE=offline`` (the run's files in
    ``WANDB_DIR``, else ``./wandb``, for ``wandb sync``); ``WANDB_ENTITY`` picks the team.

    Args:
        project: The W&B project.
        run_name: The W&B run's name (the run folder's name).
        folder: The run folder, saved in the run's config as ``genzoo_run_folder``.

    Raises:
        MissingExtraError: wandb is not installed.
    """

    name = "W&B"
    key = "wandb"

    def __init__(self, project: str, run_name: str, folder: Path) -> None:
        self.wandb = require("wandb", "wandb", "wandb= (--wandb)")
        self.project, self.run_name, self.folder = project, run_name, folder
        self.run: Any = None

    def start(self, params: Mapping[str, Any],
              previous: Mapping[str, Any] | None) -> dict[str, Any]:
        resume: dict[str, Any] = {}
        if previous and previous.get("project") == self.project and previous.get("run_id"):
            resume = {"id": str(previous["run_id"]), "resume": "allow"}
        self.run = self.wandb.init(project=self.project, name=self.run_name,
                                   config={**params, "genzoo_run_folder": str(self.folder)},
                                   reinit="create_new", **resume)
        if resume:  # W&B keeps the config of the run it resumes: the changes are allowed
            self.run.config.update(dict(params), allow_val_change=True)
            self.resumed = True
        return {"project": self.project, "run_id": self.run.id}

    def log_metrics(self, values: Mapping[str, float], step: int) -> None:
        self.run.log(dict(values), step=step)

    def log_image(self, path: Path, step: int) -> None:
        kind = path.stem.split("_", 1)[0]  # samples, reconstructions
        self.run.log({f"grids/{kind}": self.wandb.Image(str(path), caption=path.stem)}, step=step)

    def log_file(self, path: Path, folder: str) -> None:
        self.run.save(str(path), base_path=str(path.parent), policy="now")

    def log_model(self, folder: Path) -> None:
        artifact = self.wandb.Artifact(f"{_artifact_name(self.run_name)}-model", type="model")
        artifact.add_dir(str(folder))
        self.run.log_artifact(artifact)

    def finish(self, status: Status, exit_code: int) -> None:
        self.run.finish(exit_code=exit_code)


def _artifact_name(name: str) -> str:
    """``name`` as W&B artifact names may be spelled (letters, digits, ``-``, ``_``, ``.``)."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name) or "run"


def make_trackers(mlflow: str | None, wandb: str | None, folder: Path) -> Trackers:
    """The trackers the options ``mlflow`` and ``wandb`` ask for, for the run folder ``folder``.

    Raises:
        MissingExtraError: a tracker's package is not installed.
    """
    folder = folder.resolve()
    name = folder.name or "run"
    trackers: list[Tracker] = []
    if mlflow is not None:
        trackers.append(MlflowTracker(mlflow, name, folder))
    if wandb is not None:
        trackers.append(WandbTracker(wandb, name, folder))
    return Trackers(trackers)


def run_record(folder: Path) -> dict[str, Any]:
    """The run folder's ``run.json`` (``{}`` where it is missing or not a JSON object)."""
    try:
        record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def recorded_trackers(folder: Path) -> dict[str, Any]:
    """What the run folder's ``run.json`` records of its tracker runs (``{}`` if nothing)."""
    trackers = run_record(folder).get("trackers")
    if not isinstance(trackers, dict):
        return {}
    return {k: v for k, v in trackers.items() if isinstance(v, dict)}


def log_to_recorded_runs(folder: Path, path: Path, artifact_folder: str) -> str | None:
    """Log the file ``path`` to the MLflow run that the run folder ``folder`` records, if any
    (``genzoo eval`` logs its ``eval.json`` so).

    Returns:
        What was done, for a message, or ``None`` when the run has no MLflow run (or mlflow is
        not installed). A failure is a warning, never an error: the file is written anyway.
    """
    entry = recorded_trackers(folder).get("mlflow")
    if not entry or not entry.get("uri") or not entry.get("run_id"):
        return None
    try:
        mlflow = require("mlflow", "mlflow", "logging eval.json to MLflow")
    except ImportError:
        return None
    try:
        with _mlflow_http():
            mlflow.MlflowClient(tracking_uri=str(entry["uri"])).log_artifact(
                str(entry["run_id"]), str(path), artifact_folder)
    except Exception as err:  # the file stands; the tracker is a copy
        warnings.warn(f"{path.name} was not logged to MLflow run {entry['run_id']}: "
                      f"{_reason(err)}", RuntimeWarning, stacklevel=2)
        return None
    return f"logged {path.name} to MLflow run {entry['run_id']} at {entry['uri']}"
