"""The few-step plugin: the distilled student (its teacher, pairs, resume, sampler) and MeanFlow
(its target, its sampler, its resume), on tiny networks and images."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import genzoo
from genzoo.config import added_values, saved_config
from genzoo_few_step.adversary import Critic, critic_loss, generator_loss
from genzoo_few_step.jumps import jump, jump_times
from genzoo_few_step.meanflow import MeanFlowConfig
from genzoo_few_step.student import DistilledFlowConfig

SHAPE = (1, 8, 8)
TINY = dict(image_shape=SHAPE, base_width=8, num_classes=3)


@pytest.fixture(autouse=True)
def _installed_plugins() -> Iterator[None]:
    """See the installed plugin distributions (genzoo's own tests hide them from discovery)."""
    genzoo.reload_plugins()
    yield


def perturbed(model: genzoo.GenerativeModel, seed: int = 0) -> genzoo.GenerativeModel:
    """The zero-initialised head makes an untrained model's output constant; move every weight."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=generator))
    return model


def teacher_file(tmp_path: Path, seed: int = 0, name: str = "teacher.pt") -> Path:
    """A tiny class-conditional flow-matching teacher (2 Euler steps, guided), saved."""
    teacher = perturbed(genzoo.build("flow-matching", seed=seed, sampler="euler", sample_steps=2,
                                     guidance=1.5, **TINY), seed)
    path = tmp_path / name
    teacher.save(path)
    return path


def data(n: int = 24, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    images, labels = torch.rand(n, *SHAPE, generator=g), torch.randint(0, 3, (n,), generator=g)
    return list(zip(images.split(6), labels.split(6)))


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_both_models_come_from_their_own_distribution():
    infos = {info.name: info for info in genzoo.model_infos()}
    assert infos["distilled-flow"].distribution == "genzoo-few-step"
    assert infos["meanflow"].distribution == "genzoo-few-step"


def test_jumps_visit_even_times_and_take_the_mean_velocity_over_each():
    assert jump_times(4) == [0.0, 0.25, 0.5, 0.75, 1.0]
    seen = []

    def velocity(x, t, s):  # the exact mean velocity of dx/dt = 2t: (s² - t²) / (s - t) = s + t
        seen.append((t[0].item(), s[0].item()))
        return (s + t)[:, None]

    out = jump(velocity, torch.zeros(2, 1), 2)
    assert seen == [(0.0, 0.5), (0.5, 1.0)]
    torch.testing.assert_close(out, torch.ones(2, 1))  # x(1) = 1: exact in any number of jumps
    with pytest.raises(ValueError, match="at least 1"):
        jump_times(0)


# -- the distilled student ---------------------------------------------------------------------


def test_the_student_starts_from_its_teachers_weights_and_needs_the_same_network(tmp_path):
    path = teacher_file(tmp_path)
    student = genzoo.build("distilled-flow", teacher=path, **TINY)
    assert same_weights(student.net, genzoo.load(path).net)
    assert student.teacher is not None and student.teacher.source == str(path.resolve())
    scratch = genzoo.build("distilled-flow", teacher=path, init_from_teacher=False, seed=0, **TINY)
    assert not same_weights(scratch.net, student.net)
    with pytest.raises(genzoo.ConfigError, match="base_width=8") as wider:
        genzoo.build("distilled-flow", teacher=path, **{**TINY, "base_width": 16})
    assert "\n" not in str(wider.value)
    with pytest.raises(genzoo.ConfigError, match="num_classes=3"):
        genzoo.build("distilled-flow", teacher=path, **{**TINY, "num_classes": 0})
    with pytest.raises(genzoo.ConfigError, match="teacher"):
        genzoo.build("distilled-flow", **TINY).fit(data(), epochs=1, progress=False)


def test_the_pairs_are_the_teachers_own_samples_made_once_into_the_run_folder(tmp_path):
    path = teacher_file(tmp_path)
    student = genzoo.build("distilled-flow", teacher=path, pairs=10, pair_chunk=4,
                           label_dropout=0.3, **TINY)
    # in float32, as the teacher is sampled below (precision="auto" is bfloat16 on a CPU with
    # native bfloat16, and the pairs are made in the run's precision)
    student.fit(data(), epochs=1, out=tmp_path / "run", progress=False, seed=0, precision="32")
    folder = tmp_path / "run" / "teacher" / "pairs"
    assert sorted(p.name for p in folder.glob("chunk_*")) == [
        "chunk_00000.safetensors", "chunk_00001.safetensors", "chunk_00002.safetensors"]
    pairs = [load_file(p) for p in sorted(folder.glob("chunk_*"))]
    noise = torch.cat([p["noise"] for p in pairs])
    labels = torch.cat([p["labels"] for p in pairs])
    images = torch.cat([p["images"] for p in pairs])
    teacher = genzoo.load(path)
    conditional = labels < 3
    assert conditional.any() and (~conditional).any()  # some made without a class (guidable)
    torch.testing.assert_close(images[conditional],
                               teacher.generate(noise[conditional], labels[conditional]))
    torch.testing.assert_close(images[~conditional],
                               teacher.generate(noise[~conditional], torch.zeros_like(labels[~conditional]),
                                                guidance=0.0))


def test_a_student_resumes_bit_for_bit_and_remakes_only_missing_pairs(tmp_path):
    path = teacher_file(tmp_path)
    options = dict(pairs=10, pair_chunk=4, **TINY)
    whole = genzoo.build("distilled-flow", seed=0, teacher=path, **options)
    whole.fit(data(), epochs=2, out=tmp_path / "whole", progress=False, seed=3)

    first = genzoo.build("distilled-flow", seed=0, teacher=path, **options)
    first.fit(data(), epochs=2, out=tmp_path / "split", progress=False, seed=3, max_steps=5)
    last = tmp_path / "split" / "teacher" / "pairs" / "chunk_00002.safetensors"
    made = load_file(last)
    last.unlink()  # as if the run had stopped while making it
    resumed = genzoo.build("distilled-flow", seed=0, **options)  # the recorded teacher
    torch.manual_seed(12345)
    resumed.fit(data(), epochs=2, out=tmp_path / "split", resume="auto", progress=False)
    again = load_file(last)
    assert again.keys() == made.keys() and all(torch.equal(again[k], made[k]) for k in made)
    assert same_weights(whole, resumed)
    assert not same_weights(whole.net, genzoo.load(path).net)  # it trained away from the teacher


def test_pairs_made_with_other_settings_are_never_mixed_in(tmp_path):
    """The same teacher weights sampled another way make other pairs: a resume with such a
    teacher is refused rather than mixing its pairs with the run's."""
    path = teacher_file(tmp_path)
    genzoo.build("distilled-flow", teacher=path, pairs=6, **TINY).fit(
        data(), epochs=1, out=tmp_path / "run", progress=False)
    louder = genzoo.load(path)
    louder.set_sampling_options(guidance=3.0)
    louder.save(tmp_path / "louder.pt")
    other = genzoo.build("distilled-flow", teacher=tmp_path / "louder.pt", pairs=6, **TINY)
    with pytest.raises(genzoo.CheckpointError, match="other settings.*guidance") as caught:
        other.fit(data(), epochs=2, out=tmp_path / "run", resume="auto", progress=False)
    assert "\n" not in str(caught.value)


def test_a_student_refuses_to_resume_against_another_teacher(tmp_path):
    first, other = teacher_file(tmp_path, seed=1), teacher_file(tmp_path, seed=2, name="other.pt")
    genzoo.build("distilled-flow", teacher=first, pairs=6, **TINY).fit(
        data(), epochs=1, out=tmp_path / "run", progress=False)
    student = genzoo.build("distilled-flow", teacher=other, pairs=6, **TINY)
    with pytest.raises(genzoo.CheckpointError, match="another teacher"):
        student.fit(data(), epochs=2, out=tmp_path / "run", resume="auto", progress=False)


@pytest.mark.parametrize("name", ["distilled-flow", "meanflow"])
def test_the_sampler_at_one_and_two_steps_is_deterministic_and_conditional(tmp_path, name):
    model = perturbed(genzoo.build(name, seed=0, **TINY))
    one = model.sample(6, seed=1, steps=1, labels=torch.tensor([0, 1, 2, 0, 1, 2]))
    assert one.shape == (6, *SHAPE) and torch.isfinite(one).all()
    assert torch.equal(one, model.sample(6, seed=1, steps=1, labels=torch.tensor([0, 1, 2, 0, 1, 2])))
    two = model.sample(6, seed=1, steps=2, labels=torch.tensor([0, 1, 2, 0, 1, 2]))
    assert not torch.equal(one, two)
    other = model.sample(6, seed=1, steps=1, labels=torch.tensor([1, 2, 0, 1, 2, 0]))
    assert not torch.equal(one, other)  # the class changes the image
    assert model.sampling_steps == 1
    with pytest.raises(genzoo.ConfigError):
        model.sample(2, labels=7)


def test_the_student_can_be_guided_at_sampling_time():
    model = perturbed(genzoo.build("distilled-flow", seed=0, **TINY))
    plain = model.sample(4, seed=0, labels=1)
    assert not torch.equal(plain, model.sample(4, seed=0, labels=1, guidance=2.0))
    assert torch.equal(plain, model.sample(4, seed=0, labels=1, guidance=1.0))
    unguidable = genzoo.build("distilled-flow", label_dropout=0.0, **TINY)
    with pytest.raises(ValueError, match="label_dropout"):
        unguidable.sample(2, labels=1, guidance=2.0)


# -- MeanFlow -----------------------------------------------------------------------------------


def test_meanflows_times_run_forward_and_only_a_share_of_them_jump():
    model = genzoo.build("meanflow", jump_share=0.25, **TINY)
    torch.manual_seed(0)
    t, s = model._times(20_000, torch.device("cpu"), model.config.jump_share)
    assert (t <= s).all() and t.min() >= 0 and s.max() <= 1
    assert t.median() > 0.5  # the paper's logit-normal(-0.4, 1) favours the data end (t = 1)
    assert (s > t).float().mean().item() == pytest.approx(0.25, abs=0.02)


def test_meanflows_target_is_the_path_velocity_plus_the_jump_times_the_time_derivative():
    """At s = t the target is flow matching's (x - noise); for a jump it adds (s - t) d/dt u,
    the derivative along the path with the end held, here against a central difference."""
    model = perturbed(genzoo.build("meanflow", seed=0, **{**TINY, "num_classes": 0})).double()
    x, noise = torch.rand(3, *SHAPE, dtype=torch.float64), torch.randn(3, *SHAPE, dtype=torch.float64)
    t = torch.tensor([0.2, 0.5, 0.4], dtype=torch.float64)
    s = torch.tensor([0.7, 0.9, 0.4], dtype=torch.float64)  # the last: no jump
    v = x - noise
    xt = (1 - t)[:, None, None, None] * noise + t[:, None, None, None] * x
    target = model.target(xt, t, s, v)
    assert torch.equal(target[2], v[2])
    h = 1e-4  # moving along the path: x_t + h v at t + h, the end time held
    dudt = (model.mean_velocity(xt + h * v, t + h, s) - model.mean_velocity(xt - h * v, t - h, s)) / (2 * h)
    expected = v + (s - t)[:, None, None, None] * dudt
    torch.testing.assert_close(target[:2], expected[:2], rtol=1e-3, atol=1e-5)
    held_x = (model.mean_velocity(xt, t + h, s) - model.mean_velocity(xt, t - h, s)) / (2 * h)
    assert not torch.allclose(target[:2], (v + (s - t)[:, None, None, None] * held_x)[:2],
                              rtol=1e-3, atol=1e-5)  # the x-part of the derivative counts


def test_meanflows_guided_target_mixes_in_the_unconditional_velocity_for_classed_rows():
    model = perturbed(genzoo.build("meanflow", seed=0, guidance=2.0, **TINY))
    x, noise = torch.rand(2, *SHAPE), torch.randn(2, *SHAPE)
    t = s = torch.tensor([0.3, 0.3])
    xt, v = 0.7 * noise + 0.3 * x, x - noise
    labels = torch.tensor([1, model.net.null_label])
    target = model.target(xt, t, s, v, labels)
    free = model.mean_velocity(xt, t, t, None)
    torch.testing.assert_close(target[0], (2.0 * v - free)[0])  # guidance v + (1 - guidance) u(∅)
    torch.testing.assert_close(target[1], v[1])  # an unconditional row keeps its own


def test_meanflows_target_takes_a_single_jumping_row_under_bfloat16_autocast():
    model = perturbed(genzoo.build("meanflow", seed=0, **TINY))
    g = torch.Generator().manual_seed(0)
    xt, v = torch.randn(3, *SHAPE, generator=g), torch.randn(3, *SHAPE, generator=g)
    t, s = torch.tensor([0.2, 0.3, 0.4]), torch.tensor([0.2, 0.9, 0.4])  # one row jumps
    labels = torch.tensor([0, 1, 2])
    exact = model.target(xt, t, s, v, labels)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fast = model.target(xt, t, s, v, labels)
    torch.testing.assert_close(fast, exact, atol=0.05, rtol=0.05)
    assert not torch.equal(fast[1], v[1])  # the jump's derivative is in it


def test_meanflow_trains_its_mean_velocity_and_resumes_bit_for_bit(tmp_path):
    options = dict(jump_share=0.5, guidance=1.5, flow_epochs=1, **TINY)  # resumed in the jumps
    whole = genzoo.build("meanflow", seed=0, **options)
    assert whole.config.shortcut > 0  # the default, so the resume covers it
    before = [p.detach().clone() for p in whole.parameters()]
    whole.fit(data(), epochs=2, out=tmp_path / "whole", progress=False, seed=3)
    assert any(not torch.equal(a, b) for a, b in zip(before, whole.parameters()))
    first = genzoo.build("meanflow", seed=0, **options)
    first.fit(data(), epochs=2, out=tmp_path / "split", progress=False, seed=3, max_steps=5)
    resumed = genzoo.build("meanflow", seed=0, **options)
    torch.manual_seed(12345)
    resumed.fit(data(), epochs=2, out=tmp_path / "split", resume="auto", progress=False)
    assert same_weights(whole, resumed)


def test_meanflows_shortcut_pulls_its_one_jump_towards_its_own_two_half_jumps(tmp_path):
    def gap(model: genzoo.GenerativeModel) -> float:
        one = model.sample(32, seed=5, steps=1)
        return (one - model.sample(32, seed=5, steps=2)).pow(2).mean().item()

    gaps = {}
    for weight in (0.0, 20.0):
        model = genzoo.build("meanflow", seed=0, shortcut=weight, **TINY)
        result = model.fit(data(48), epochs=4, out=tmp_path / str(weight), progress=False, seed=3)
        assert ("shortcut" in result.metrics) == bool(weight)
        gaps[weight] = gap(model)
    assert gaps[20.0] < 0.5 * gaps[0.0]


def test_meanflows_flow_epochs_train_the_instantaneous_velocity_alone_before_any_jump(
        tmp_path, monkeypatch):
    model = genzoo.build("meanflow", seed=0, flow_epochs=1, **TINY)
    jumped, target = [], model.target

    def spy(xt, t, s, v, labels=None):
        jumped.append(bool((s > t).any()))
        return target(xt, t, s, v, labels)

    monkeypatch.setattr(model, "target", spy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = model.fit(data(), epochs=2, out=tmp_path / "one", progress=False, seed=3)
    assert jumped == [False] * 4 + [True] * 4  # four batches an epoch
    assert "shortcut" in result.metrics
    assert not [w for w in caught if "trains no jump" in str(w.message)]
    flow_only = genzoo.build("meanflow", seed=0, flow_epochs=2, **TINY)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = flow_only.fit(data(), epochs=2, out=tmp_path / "two", progress=False, seed=3)
    assert "shortcut" not in result.metrics
    said = [str(w.message) for w in caught if "trains no jump" in str(w.message)]
    assert said == ["flow_epochs=2 in a run of 2 epochs trains no jump, so one step does not yet "
                    "make images; train more epochs than flow_epochs (a resume to more epochs "
                    "goes on with the jumps)"]  # once, not at every step
    resumed = genzoo.build("meanflow", seed=0, flow_epochs=2, **TINY)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = resumed.fit(data(), epochs=3, out=tmp_path / "two", resume="auto", progress=False)
    assert "shortcut" in result.metrics  # the third epoch jumps
    assert not [w for w in caught if "trains no jump" in str(w.message)]


def test_meanflow_options_are_checked_by_name():
    with pytest.raises(genzoo.ConfigError, match="guidance"):
        genzoo.build("meanflow", guidance=2.0, image_shape=SHAPE, base_width=8)  # no classes
    with pytest.raises(genzoo.ConfigError, match="jump_share"):
        genzoo.build("meanflow", jump_share=1.5, **TINY)
    for option, value, says in (("shortcut", -1.0, "shortcut must be 0 or more, got -1.0$"),
                                ("flow_epochs", -1, "flow_epochs must be 0 or more, got -1$"),
                                ("lr", 0.0, "lr must be positive, got 0.0$"),
                                ("time_std", -1.0, "time_std must be positive, got -1.0$"),
                                ("guidance", 0.5, "guidance must be 1 or more, got 0.5$"),
                                ("adaptive_power", -1.0, "adaptive_power must be 0 or more, got -1.0$"),
                                ("sample_steps", 0, "sample_steps.*at least 1")):
        with pytest.raises(genzoo.ConfigError, match=says):  # the one wrong option, alone
            genzoo.build("meanflow", **{**TINY, option: value})


# -- the critic (adversarial) ------------------------------------------------------------------


def test_the_critic_is_a_projection_critic_whose_losses_pull_opposite_ways():
    critic = Critic(SHAPE, num_classes=3)
    images = torch.rand(4, *SHAPE) * 2 - 1
    logits = critic(images, torch.tensor([0, 1, 2, 3]))  # 3: the null class
    assert logits.shape == (4,)
    assert not torch.equal(logits, critic(images, torch.tensor([1, 2, 0, 3])))  # classes count
    fake = (torch.rand(4, *SHAPE) * 2 - 1).requires_grad_()
    labels = torch.tensor([0, 1, 2, 0])
    critic_loss(critic, images, fake, labels, labels).backward()
    assert fake.grad is None  # the critic's loss does not reach the generator
    critic.eval()  # spectral norm's power iteration holds still: the same critic each call
    (grad,) = torch.autograd.grad(generator_loss(critic, fake, labels), fake)
    with torch.no_grad():  # the generator's gradient raises the critic's logits (to "real")
        assert (critic(fake - 1e-3 * grad, labels) > critic(fake, labels)).all()


def test_an_adversarial_student_trains_a_critic_on_real_images_and_resumes_bit_for_bit(tmp_path):
    teacher = teacher_file(tmp_path)
    options = dict(adversarial=0.5, pairs=8, pair_chunk=4, **TINY)
    whole = genzoo.build("distilled-flow", seed=0, teacher=teacher, **options)
    critic = [p.detach().clone() for p in whole.critic.parameters()]
    result = whole.fit(data(), epochs=2, out=tmp_path / "whole", progress=False, seed=3)
    assert any(not torch.equal(a, b) for a, b in zip(critic, whole.critic.parameters()))
    assert {"d_loss", "g_loss"} <= set(result.metrics)
    plain = genzoo.build("distilled-flow", seed=0, teacher=teacher,
                         **{**options, "adversarial": 0.0})
    assert not hasattr(plain, "critic")
    plain.fit(data(), epochs=2, out=tmp_path / "plain", progress=False, seed=3)
    assert not same_weights(plain.net, whole.net)  # the critic's loss moved the network

    first = genzoo.build("distilled-flow", seed=0, teacher=teacher, **options)
    first.fit(data(), epochs=2, out=tmp_path / "split", progress=False, seed=3, max_steps=5)
    resumed = genzoo.build("distilled-flow", seed=0, **options)
    torch.manual_seed(12345)
    resumed.fit(data(), epochs=2, out=tmp_path / "split", resume="auto", progress=False)
    assert same_weights(whole, resumed)
    with pytest.raises(genzoo.ConfigError, match="adversarial"):
        genzoo.build("distilled-flow", adversarial=-1.0, **TINY)


@pytest.mark.parametrize("name, now", [("distilled-flow", {"adversarial": 2.0}),
                                       ("meanflow", {"shortcut": 1.0})])
def test_a_model_saved_before_an_option_existed_loads_without_it(tmp_path, name, now):
    teacher = {"teacher": teacher_file(tmp_path)} if name == "distilled-flow" else {}
    plain = perturbed(genzoo.build(name, seed=0, **dict.fromkeys(now, 0.0), **teacher, **TINY))
    path = tmp_path / "old.pt"
    plain.save(path)
    payload = torch.load(path, weights_only=True)
    for option in now:  # as a model saved before the options were written
        del payload["config"][option]
    torch.save(payload, path)
    loaded = genzoo.load(path)
    assert all(getattr(loaded.config, option) == 0.0 for option in now)
    assert not hasattr(loaded, "critic")
    assert torch.equal(loaded.sample(3, seed=1, steps=1), plain.sample(3, seed=1, steps=1))
    built = genzoo.build(name, **TINY)  # built now: the options on
    assert {option: getattr(built.config, option) for option in now} == now


def test_the_student_regresses_with_l1_unless_it_was_saved_with_another_loss(tmp_path):
    teacher = teacher_file(tmp_path)
    trained = {}
    for loss in ("l1", "pseudo-huber", "mse"):
        student = genzoo.build("distilled-flow", seed=0, teacher=teacher, adversarial=0.0, pairs=8,
                               pair_chunk=4, loss=loss, **TINY)
        student.fit(data(), epochs=1, out=tmp_path / loss, progress=False, seed=3)
        trained[loss] = student.net
    assert not same_weights(trained["l1"], trained["pseudo-huber"])
    assert not same_weights(trained["l1"], trained["mse"])
    assert genzoo.build("distilled-flow", **TINY).config.loss == "l1"
    # pseudo-huber was the default before: a run folder whose train.toml does not name the loss
    # resumes with its checkpoint's (genzoo train --resume fills it from there)
    assert added_values(DistilledFlowConfig, {"loss": "pseudo-huber"})["loss"] == "pseudo-huber"
    assert saved_config(DistilledFlowConfig, {})["loss"] == "pseudo-huber"
    with pytest.raises(genzoo.ConfigError, match="loss.*'l1', 'mse', 'pseudo-huber'"):
        genzoo.build("distilled-flow", loss="l2", **TINY)


@pytest.mark.parametrize("name, config_class, now, before", [
    ("distilled-flow", DistilledFlowConfig, (4e-3, 0.95), (1e-3, 0.85)),
    ("meanflow", MeanFlowConfig, (4e-3, 0.75), (1e-3, 0.5)),
])
def test_a_run_begun_before_the_faster_defaults_resumes_with_its_own_lr_and_jump_share(
        name, config_class, now, before):
    config = genzoo.build(name, **TINY).config
    assert (config.lr, config.jump_share) == now
    # the defaults before: a run folder whose train.toml names neither resumes with its
    # checkpoint's values (genzoo train --resume fills them from there)
    before = dict(zip(("lr", "jump_share"), before))
    assert {k: added_values(config_class, before)[k] for k in before} == before
    assert {k: saved_config(config_class, {})[k] for k in before} == before
