"""A student trained against a frozen teacher: the teacher stays frozen and outside the student's
weights, optimizers and checkpoints; checkpoints record which teacher and a resume refuses
another; teacher samples are made once, in chunks, resumably; resume stays bit-for-bit."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import genzoo
from genzoo.plugin import Batch, GenerativeModel, StepContext, Teacher, adam
from genzoo.runner import LAST_CHECKPOINT
from genzoo.runner.teaching import SamplesStopped, generate_teacher_samples
from genzoo.teacher import weights_sha256
from tests.cli import FAST, invoke, ok, tiny_root, user_error  # noqa: F401

SHAPE = (1, 4, 4)


@dataclass(frozen=True)
class TinyConfig:
    image_shape: tuple[int, int, int] = SHAPE
    lr: float = 1e-2
    pairs: int = 0  # teacher samples a student draws from (0: none)


class TinyTeacher(GenerativeModel):
    """A linear map of flattened images: what the student learns to imitate."""

    Config = TinyConfig

    def __init__(self, config: TinyConfig | None = None, /, **overrides: object) -> None:
        super().__init__(config, **overrides)
        d = self.config.image_shape[0] * self.config.image_shape[1] * self.config.image_shape[2]
        self.net = torch.nn.Linear(d, d)

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images.flatten(1))

    def sample_latent(self, n: int, *, generator: torch.Generator) -> torch.Tensor:
        return torch.rand(n, *self.image_shape, generator=generator)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sigmoid(self.predict(z)).view(-1, *self.image_shape)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"net": adam(self.parameters(), lr=self.config.lr)}

    def training_step(self, batch: Batch, step: StepContext) -> dict[str, torch.Tensor]:
        loss = F.mse_loss(self.predict(batch.images), batch.images.flatten(1))
        step.optimize(loss, "net")
        return {"loss": loss.detach()}


class TinyStudent(TinyTeacher):
    """Regresses onto its teacher's outputs at noisy inputs (and, with ``pairs``, onto the
    teacher's samples, made once for the run)."""

    teacher_required = True
    teacher: Teacher | None = None
    samples_made = 0  # how many samples make() produced, across instances

    def set_teacher(self, teacher: Teacher) -> None:
        self.teacher = teacher

    @staticmethod
    def make_pairs(teacher: Teacher, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        TinyStudent.samples_made += n
        noise = torch.rand(n, *teacher.image_shape, generator=generator).to(teacher.model.net.weight.device)
        return {"noise": noise, "image": teacher.generate(noise)}

    def training_step(self, batch: Batch, step: StepContext) -> dict[str, torch.Tensor]:
        assert self.teacher is not None
        x = batch.images + 0.1 * torch.randn_like(batch.images)
        loss = F.mse_loss(self.predict(x), self.teacher.predict(x))
        if self.config.pairs:
            pairs = step.teacher_samples(self.make_pairs, count=self.config.pairs, chunk_size=3)
            pick = torch.randint(0, self.config.pairs, (4,))
            noise, image = pairs["noise"][pick].to(x.device), pairs["image"][pick].to(x.device)
            loss = loss + F.mse_loss(self.generate(noise), image)
        step.optimize(loss, "net")
        return {"loss": loss.detach()}


class OptionalStudent(TinyStudent):
    teacher_required = False

    def training_step(self, batch: Batch, step: StepContext) -> dict[str, torch.Tensor]:
        if self.teacher is None:
            return TinyTeacher.training_step(self, batch, step)
        return super().training_step(batch, step)


class _Plugin:
    @genzoo.hookimpl
    def genzoo_register_models(self, register):  # type: ignore[no-untyped-def]
        register("tiny-teacher", TinyTeacher, summary="a test teacher")
        register("tiny-student", TinyStudent, summary="a test student that needs a teacher")
        register("tiny-optional-student", OptionalStudent, summary="a test student, teacher optional")


@pytest.fixture(autouse=True)
def _tiny_models():
    genzoo.register_plugin(_Plugin(), name="tiny-teaching")
    try:
        yield
    finally:
        genzoo.unregister_plugin("tiny-teaching")


def data(n: int = 24, seed: int = 0, shape: tuple[int, ...] = SHAPE) -> list[torch.Tensor]:
    images = torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed))
    return list(images.split(4))


def teacher_file(tmp_path: Path, seed: int, name: str = "teacher.pt") -> Path:
    teacher = genzoo.build("tiny-teacher", seed=seed)
    teacher.fit(data(seed=seed), epochs=1, progress=False, seed=seed)
    path = tmp_path / name
    teacher.save(path)
    return path


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), f"{key} differs"


# -- the teacher is frozen and not the student's ------------------------------------------------

def test_the_teacher_is_frozen_and_absent_from_the_students_weights_optimizer_and_checkpoint(tmp_path):
    teacher_model = genzoo.load(teacher_file(tmp_path, seed=1))
    before = {k: v.clone() for k, v in teacher_model.state_dict().items()}
    student = genzoo.build("tiny-student", seed=0, teacher=teacher_model)
    assert isinstance(student, genzoo.Student) and student.teacher.model is teacher_model
    student.fit(data(), epochs=2, out=tmp_path / "run", progress=False, seed=3, ema=0.9)

    assert not teacher_model.training  # eval mode, though fit put the student in train mode
    assert all(not p.requires_grad and p.grad is None for p in teacher_model.parameters())
    for key, value in teacher_model.state_dict().items():
        assert torch.equal(value, before[key]), key  # not trained
    payload = torch.load(tmp_path / "run" / LAST_CHECKPOINT, weights_only=True)
    assert set(payload["state_dict"]) == {"net.weight", "net.bias"}  # the student's alone
    assert set(payload["ema"]["state_dict"]) == {"net.weight", "net.bias"}
    states = payload["optimizers"]["net"]["state"]
    assert len(states) == 2  # the student's two tensors, nothing of the teacher's
    assert payload["teacher"] == {"source": None,  # made in memory: its hash alone names it
                                  "sha256": weights_sha256(teacher_model), "model": "tiny-teacher"}
    # a trained student loads and samples without its teacher
    assert genzoo.load(tmp_path / "run" / LAST_CHECKPOINT).sample(2, seed=0).shape == (2, *SHAPE)


def test_the_checkpoint_records_the_teachers_source_and_a_deterministic_hash(tmp_path):
    path = teacher_file(tmp_path, seed=1)
    student = genzoo.build("tiny-student", seed=0, teacher=path)
    assert student.teacher.source == str(path.resolve())
    student.fit(data(), epochs=1, out=tmp_path / "run", progress=False)
    record = torch.load(tmp_path / "run" / LAST_CHECKPOINT, weights_only=True)["teacher"]
    assert record["source"] == str(path.resolve())
    assert record["sha256"] == weights_sha256(genzoo.load(path)) == Teacher(genzoo.load(path)).sha256
    other = genzoo.load(teacher_file(tmp_path, seed=2, name="other.pt"))
    assert weights_sha256(other) != record["sha256"]


def test_a_teacher_loads_from_a_run_folder_or_a_model_folder(tmp_path):
    teacher = genzoo.build("tiny-teacher", seed=1)
    teacher.fit(data(), epochs=1, out=tmp_path / "run", progress=False)
    from_run = genzoo.build("tiny-student", teacher=tmp_path / "run").teacher
    assert from_run.source == str((tmp_path / "run" / LAST_CHECKPOINT).resolve())
    assert from_run.sha256 == weights_sha256(teacher)
    folder = teacher.save_pretrained(tmp_path / "folder")
    from_folder = genzoo.build("tiny-student", teacher=str(folder)).teacher
    assert from_folder.source == str(folder.resolve()) and from_folder.sha256 == from_run.sha256
    with pytest.raises(genzoo.CheckpointError, match="no checkpoint file at"):
        genzoo.build("tiny-student", teacher=tmp_path / "nothing.pt")
    with pytest.raises(genzoo.ConfigError, match="teacher must be a trained model"):
        genzoo.build("tiny-student", teacher=3)


@pytest.mark.filterwarnings("ignore:bf16 autocast runs convolutions")
def test_the_teacher_runs_on_the_training_device_in_the_training_precision_without_gradients():
    seen = []

    class Watching(TinyStudent):
        def training_step(self, batch, step):  # type: ignore[no-untyped-def]
            out = self.teacher.predict(batch.images)
            seen.append((out.dtype, out.requires_grad, out.device, torch.is_grad_enabled()))
            return super().training_step(batch, step)

    student = Watching()
    student.registry_name = "tiny-student"
    student.set_teacher(Teacher(genzoo.build("tiny-teacher", seed=1)))
    student.fit(data(), epochs=1, device="cpu", precision="bf16", progress=False)
    assert seen and all(s == (torch.bfloat16, False, torch.device("cpu"), True) for s in seen)


def test_a_student_that_shares_its_teachers_weights_is_refused(tmp_path):
    teacher_model = genzoo.build("tiny-teacher", seed=1)
    student = genzoo.build("tiny-student", seed=0, teacher=teacher_model)
    student.net = teacher_model.net  # registered as the student's own: it would be trained
    with pytest.raises(genzoo.GenzooError, match="holds its teacher's weights as its own"):
        student.fit(data(), epochs=1, progress=False)


# -- refusals -------------------------------------------------------------------------------------

def test_a_model_without_a_teacher_slot_refuses_one_and_a_required_teacher_must_be_given():
    with pytest.raises(genzoo.ConfigError, match="takes none.*drop --teacher"):
        genzoo.build("tiny-teacher", teacher=genzoo.build("tiny-teacher"))
    with pytest.raises(genzoo.ConfigError, match="trains against a teacher: pass --teacher"):
        genzoo.build("tiny-student").fit(data(), epochs=1, progress=False)
    genzoo.build("tiny-optional-student").fit(data(), epochs=1, progress=False)  # optional: fine


def test_resume_refuses_a_different_teacher_naming_both_hashes(tmp_path):
    first, other = teacher_file(tmp_path, seed=1), teacher_file(tmp_path, seed=2, name="other.pt")
    genzoo.build("tiny-student", seed=0, teacher=first).fit(
        data(), epochs=1, out=tmp_path / "run", progress=False)
    student = genzoo.build("tiny-student", seed=0, teacher=other)
    with pytest.raises(genzoo.CheckpointError) as caught:
        student.fit(data(), epochs=2, out=tmp_path / "run", resume="auto", progress=False)
    message = str(caught.value)
    assert "\n" not in message and "another teacher" in message
    assert weights_sha256(genzoo.load(first)) in message and weights_sha256(genzoo.load(other)) in message


def test_resume_with_a_teacher_where_the_run_had_none_is_refused(tmp_path):
    genzoo.build("tiny-optional-student", seed=0).fit(data(), epochs=1, out=tmp_path / "run",
                                                      progress=False)
    student = genzoo.build("tiny-optional-student", seed=0, teacher=teacher_file(tmp_path, seed=1))
    with pytest.raises(genzoo.CheckpointError, match="trained without one"):
        student.fit(data(), epochs=2, out=tmp_path / "run", resume="auto", progress=False)


def test_resume_without_a_teacher_refuses_a_recorded_source_that_changed_or_went(tmp_path):
    path = teacher_file(tmp_path, seed=1)
    genzoo.build("tiny-student", seed=0, teacher=path).fit(data(), epochs=1, out=tmp_path / "run",
                                                           progress=False)
    genzoo.build("tiny-teacher", seed=5).save(path)  # other weights at the same place
    with pytest.raises(genzoo.CheckpointError, match="has changed since") as caught:
        genzoo.build("tiny-student", seed=0).fit(data(), epochs=2, out=tmp_path / "run",
                                                 resume="auto", progress=False)
    assert "\n" not in str(caught.value)
    path.unlink()
    with pytest.raises(genzoo.CheckpointError, match="cannot be loaded again.*--teacher"):
        genzoo.build("tiny-student", seed=0).fit(data(), epochs=2, out=tmp_path / "run",
                                                 resume="auto", progress=False)


# -- exact resume ---------------------------------------------------------------------------------

@pytest.mark.parametrize("pairs", [0, 7])
def test_a_student_resumed_without_its_teacher_goes_on_bit_for_bit(tmp_path, pairs):
    path = teacher_file(tmp_path, seed=1)
    whole = genzoo.build("tiny-student", seed=0, pairs=pairs, teacher=path)
    whole.fit(data(), epochs=4, out=tmp_path / "whole", progress=False, seed=7)

    first = genzoo.build("tiny-student", seed=0, pairs=pairs, teacher=path)
    first.fit(data(), epochs=4, out=tmp_path / "split", progress=False, seed=7, max_steps=9)
    TinyStudent.samples_made = 0
    resumed = genzoo.build("tiny-student", seed=0, pairs=pairs)  # no teacher: the recorded one
    torch.manual_seed(12345)  # a fresh process's state
    resumed.fit(data(), epochs=4, out=tmp_path / "split", resume="auto", progress=False)
    assert resumed.teacher is not None and resumed.teacher.source == str(path.resolve())
    assert TinyStudent.samples_made == 0  # the samples were read back, not made again
    assert_same_weights(whole, resumed)
    if pairs:
        chunks = sorted(p.name for p in (tmp_path / "split" / "teacher" / "samples").iterdir())
        assert chunks == ["chunk_00000.safetensors", "chunk_00001.safetensors",
                          "chunk_00002.safetensors", "manifest.json"]


def test_a_signal_while_teacher_samples_are_made_stops_and_the_resume_is_exact(tmp_path):
    path = teacher_file(tmp_path, seed=1)
    whole = genzoo.build("tiny-student", seed=0, pairs=7, teacher=path)
    whole.fit(data(), epochs=2, out=tmp_path / "whole", progress=False, seed=7)

    class Interrupting(TinyStudent):
        @staticmethod
        def make_pairs(teacher, n, generator):  # type: ignore[no-untyped-def]
            made = TinyStudent.make_pairs(teacher, n, generator)
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the first chunk is made
            return made

    first = Interrupting(TinyConfig(pairs=7))
    first.registry_name = "tiny-student"
    first.load_state_dict(genzoo.build("tiny-student", seed=0, pairs=7).state_dict())
    first.set_teacher(Teacher(genzoo.load(path), source=str(path.resolve())))
    with pytest.raises(KeyboardInterrupt):
        first.fit(data(), epochs=2, out=tmp_path / "split", progress=False, seed=7)
    folder = tmp_path / "split" / "teacher" / "samples"
    assert sorted(p.name for p in folder.glob("chunk_*")) == ["chunk_00000.safetensors"]
    assert torch.load(tmp_path / "split" / LAST_CHECKPOINT, weights_only=True)["step"] == 0

    TinyStudent.samples_made = 0
    resumed = genzoo.build("tiny-student", seed=0, pairs=7)
    resumed.fit(data(), epochs=2, out=tmp_path / "split", resume="auto", progress=False)
    assert TinyStudent.samples_made == 4  # the second and third chunks only (3 + 1 samples)
    assert_same_weights(whole, resumed)


# -- teacher samples ------------------------------------------------------------------------------

def _teacher(seed: int = 1) -> Teacher:
    return Teacher(genzoo.build("tiny-teacher", seed=seed))


def test_interrupted_teacher_samples_resume_to_exactly_the_uninterrupted_ones(tmp_path):
    teacher = _teacher()
    whole = generate_teacher_samples(tmp_path / "whole", teacher, TinyStudent.make_pairs,
                                     count=10, chunk_size=3, seed=4)
    assert whole["noise"].shape == (10, *SHAPE) and whole["image"].shape == (10, *SHAPE)

    calls = []

    def crashing(teacher, n, generator):  # type: ignore[no-untyped-def]
        calls.append(n)
        if len(calls) == 3:
            raise RuntimeError("killed")
        return TinyStudent.make_pairs(teacher, n, generator)

    with pytest.raises(RuntimeError, match="killed"):
        generate_teacher_samples(tmp_path / "split", teacher, crashing, count=10, chunk_size=3, seed=4)
    assert sorted(p.name for p in (tmp_path / "split").glob("chunk_*")) == [
        "chunk_00000.safetensors", "chunk_00001.safetensors"]
    assert not list((tmp_path / "split").glob(".*.tmp"))
    calls.clear()
    state = torch.get_rng_state()
    resumed = generate_teacher_samples(tmp_path / "split", teacher, crashing, count=10,
                                       chunk_size=3, seed=4)
    assert calls == [3, 1]  # only the missing chunks were made
    assert torch.equal(torch.get_rng_state(), state)  # the global random state is untouched
    for name in whole:
        assert torch.equal(whole[name], resumed[name]), name
    in_memory = generate_teacher_samples(None, teacher, TinyStudent.make_pairs, count=10,
                                         chunk_size=3, seed=4)
    assert all(torch.equal(whole[k], in_memory[k]) for k in whole)
    other_seed = generate_teacher_samples(None, teacher, TinyStudent.make_pairs, count=10,
                                          chunk_size=3, seed=5)
    assert not torch.equal(whole["noise"], other_seed["noise"])


def test_teacher_samples_of_another_teacher_or_settings_are_never_mixed_in(tmp_path):
    generate_teacher_samples(tmp_path, _teacher(1), TinyStudent.make_pairs, count=6, chunk_size=3)
    with pytest.raises(genzoo.CheckpointError, match="another teacher.*never mixed"):
        generate_teacher_samples(tmp_path, _teacher(2), TinyStudent.make_pairs, count=6, chunk_size=3)
    with pytest.raises(genzoo.CheckpointError, match="other settings.*count 6 there, 9 now"):
        generate_teacher_samples(tmp_path, _teacher(1), TinyStudent.make_pairs, count=9, chunk_size=3)
    with pytest.raises(genzoo.ConfigError, match="chunk_size must be a positive"):
        generate_teacher_samples(None, _teacher(1), TinyStudent.make_pairs, count=6, chunk_size=0)


def test_a_stop_request_between_chunks_keeps_the_chunks_made(tmp_path):
    asked = iter([False, True])
    with pytest.raises(SamplesStopped, match="after chunk 1 of 2"):
        generate_teacher_samples(tmp_path, _teacher(), TinyStudent.make_pairs, count=6,
                                 chunk_size=3, stop=lambda: next(asked))
    assert [p.name for p in tmp_path.glob("chunk_*")] == ["chunk_00000.safetensors"]


# -- the command line -----------------------------------------------------------------------------

def test_cli_teacher_errors_are_one_line(tmp_path, tiny_root):
    user_error(invoke("train", "vae", "--teacher", tmp_path / "missing.pt", "--data-root",
                      tiny_root, *FAST), "takes no teacher", "drop --teacher")
    user_error(invoke("train", "tiny-student", "--data-root", tiny_root, *FAST,
                      "--out", tmp_path / "run"), "trains against a teacher", "pass --teacher")
    user_error(invoke("train", "tiny-student", "--teacher", tmp_path / "missing.pt",
                      "--data-root", tiny_root, *FAST, "--out", tmp_path / "run2"),
               "no checkpoint file at")


def test_cli_student_resumes_with_its_recorded_teacher(tmp_path, tiny_root):
    teacher = genzoo.build("tiny-teacher", seed=1, image_shape=(1, 28, 28))
    teacher.save(tmp_path / "teacher.pt")
    run = tmp_path / "run"
    ok(invoke("train", "tiny-student", "--teacher", tmp_path / "teacher.pt", "--data-root",
              tiny_root, *FAST, "--epochs", "1", "--out", run, "--seed", "0"))
    assert f'teacher = "{(tmp_path / "teacher.pt").resolve()}"' in (run / "train.toml").read_text()
    ok(invoke("train", "--resume", run, "--epochs", "2"))  # no --teacher: the recorded one
    other = genzoo.build("tiny-teacher", seed=2, image_shape=(1, 28, 28))
    other.save(tmp_path / "other.pt")
    user_error(invoke("train", "--resume", run, "--epochs", "3", "--teacher", tmp_path / "other.pt"),
               "another teacher", weights_sha256(other))


def test_making_teacher_samples_is_reported_and_one_name_means_one_set(tmp_path, capsys):
    path = teacher_file(tmp_path, seed=1)
    genzoo.build("tiny-student", seed=0, pairs=7, teacher=path).fit(
        data(), epochs=1, out=tmp_path / "run", max_steps=2)
    assert "genzoo: teacher samples: chunk 3 of 3 made" in capsys.readouterr().err

    class Greedy(TinyStudent):
        def training_step(self, batch, step):  # type: ignore[no-untyped-def]
            step.teacher_samples(self.make_pairs, count=3, chunk_size=3)
            step.teacher_samples(self.make_pairs, count=6, chunk_size=3)

    greedy = Greedy()
    greedy.registry_name = "tiny-student"
    greedy.set_teacher(Teacher(genzoo.load(path)))
    with pytest.raises(genzoo.ConfigError, match="another name"):
        greedy.fit(data(), epochs=1, progress=False)
