"""The strategy's engine in one process: what it resolves to and what it refuses."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import genzoo
from genzoo.runner import World
from genzoo.runner.processes import Parallel, _fully_shard_by_module, resolve_strategy


@pytest.mark.filterwarnings("ignore:strategy=.*one process")
def test_strategies_resolve_to_ddp_under_torchrun_and_to_none_in_one_process():
    assert resolve_strategy("auto", World(rank=0, size=2)) == "ddp"
    assert resolve_strategy("fsdp", World(rank=1, size=2)) == "fsdp"
    assert [resolve_strategy(s, World()) for s in ("auto", "ddp", "fsdp")] == ["none"] * 3
    with pytest.raises(genzoo.ConfigError, match="unknown strategy 'zero'"):
        resolve_strategy("zero", World())
    with pytest.raises(genzoo.ConfigError, match="strategy"):
        genzoo.build("vae", hidden_dim=8).fit([torch.rand(2, 1, 28, 28)], strategy="zero")


@pytest.mark.filterwarnings("ignore:strategy=.*one process")
def test_one_process_trains_the_plain_model_whatever_the_strategy():
    model = genzoo.build("vae", hidden_dim=8, seed=0)
    result = model.fit([torch.rand(4, 1, 28, 28)], epochs=1, strategy="fsdp", progress=False)
    assert result.steps == 1
    assert all(type(p) is nn.Parameter for p in model.parameters())  # nothing sharded
    loss = torch.ones((), requires_grad=True)
    assert Parallel("none", World(), torch.device("cpu")).sync("optimizer", loss) is loss


def test_a_strategy_asked_for_in_one_process_warns_that_it_does_nothing():
    with pytest.warns(UserWarning, match=r"strategy='fsdp' .*one process.*torchrun --nproc-per-node"):
        assert resolve_strategy("fsdp", World()) == "none"
    with pytest.warns(UserWarning, match=r"strategy='ddp'"):
        genzoo.build("vae", hidden_dim=8).fit([torch.rand(2, 1, 28, 28)], strategy="ddp",
                                              progress=False)


def test_fsdp_refuses_parameters_held_by_the_model_itself():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Linear(2, 2)
            self.scale = nn.Parameter(torch.ones(()))

    with pytest.raises(genzoo.ConfigError, match=r"holds parameters itself \(scale\).*submodule"):
        _fully_shard_by_module(Scaled(), World(rank=0, size=2), torch.device("cpu"))


def test_fsdp_refuses_float16_whose_scaler_would_judge_shards_alone():
    with pytest.raises(genzoo.PrecisionError, match="use precision='bf16'"):
        Parallel("fsdp", World(rank=0, size=2), torch.device("cuda")).check_precision("16")
    Parallel("fsdp", World(rank=0, size=2), torch.device("cuda")).check_precision("bf16")
    Parallel("ddp", World(rank=0, size=2), torch.device("cuda")).check_precision("16")
