"""genzoo.nn.UNet: shapes, conditioning, the null class, patches and channels-last."""

from __future__ import annotations

import pytest
import torch

from genzoo.nn import UNet, check_unet_options, timestep_embedding


def _trained_a_little(net: UNet) -> UNet:
    """The head starts at zero (the output is zero at first); perturb every weight a little."""
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    return net


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("patch_size", [1, 2])
def test_output_has_the_input_shape(shape, patch_size):
    net = UNet(shape[0], base_width=8, channel_mults=(1, 2), patch_size=patch_size)
    x = torch.randn(2, *shape)
    out = net(x, torch.rand(2))
    assert out.shape == x.shape
    assert torch.equal(out, torch.zeros_like(out))  # the zero-initialised head
    assert net.size_multiple == 2 * patch_size


def test_time_and_class_change_the_output_and_none_is_the_null_class():
    net = _trained_a_little(UNet(1, base_width=8, num_classes=10))
    net.eval()
    x = torch.randn(2, 1, 28, 28)
    t = torch.tensor([0.3, 0.3])
    a = net(x, t, torch.tensor([1, 1]))
    assert not torch.allclose(a, net(x, t, torch.tensor([2, 2])))
    assert not torch.allclose(a, net(x, torch.tensor([0.6, 0.6]), torch.tensor([1, 1])))
    assert torch.equal(net(x, t), net(x, t, torch.full((2,), net.null_label)))
    assert net.null_label == 10 and net.classes.num_embeddings == 11
    assert torch.allclose(net(x, torch.tensor(0.3)), net(x, t))  # one time for all


def test_channels_last_is_the_same_function():
    torch.manual_seed(0)
    fast = _trained_a_little(UNet(3, base_width=8, channels_last=True, patch_size=2))
    plain = UNet(3, base_width=8, channels_last=False, patch_size=2)
    plain.load_state_dict(fast.state_dict())
    assert fast.stem.weight.is_contiguous(memory_format=torch.channels_last)
    assert not plain.stem.weight.is_contiguous(memory_format=torch.channels_last)
    x, t = torch.randn(2, 3, 32, 32), torch.rand(2)
    torch.testing.assert_close(fast(x, t), plain(x, t), rtol=1e-4, atol=1e-5)


def test_bad_inputs_and_options_are_refused():
    net = UNet(1, base_width=8, channel_mults=(1, 2), patch_size=2)
    with pytest.raises(ValueError, match="multiples of 4, got 1×30×30"):
        net(torch.randn(1, 1, 30, 30), torch.rand(1))
    with pytest.raises(ValueError, match="1-channel"):
        net(torch.randn(1, 3, 28, 28), torch.rand(1))
    with pytest.raises(ValueError, match="patch_size"):
        UNet(1, patch_size=3)
    with pytest.raises(ValueError, match="channel_mults"):
        UNet(1, channel_mults=())


def test_timestep_embedding_is_sinusoidal():
    emb = timestep_embedding(torch.tensor([0.0, 0.5]), 8)
    assert emb.shape == (2, 8)
    assert torch.equal(emb[0], torch.tensor([0.0] * 4 + [1.0] * 4))
    assert not torch.allclose(emb[0], emb[1])


def test_check_unet_options_names_what_is_wrong():
    check_unet_options((3, 32, 32), base_width=8, channel_mults=(1, 2, 2), blocks_per_level=1,
                       patch_size=2)
    with pytest.raises(ValueError, match="divisible by 8 .* got 28x28"):
        check_unet_options((1, 28, 28), base_width=8, channel_mults=(1, 2, 2), blocks_per_level=1,
                           patch_size=2)
    with pytest.raises(ValueError, match="dropout"):
        check_unet_options((1, 28, 28), base_width=8, channel_mults=(1, 2), blocks_per_level=1,
                           patch_size=2, dropout=1.0)


def test_two_time_inputs_take_n_by_2_times_and_both_matter():
    net = _trained_a_little(UNet(1, base_width=8, time_inputs=2))
    net.eval()
    assert net.time[0].in_features == 2 * 8
    x = torch.randn(3, 1, 28, 28)
    t = torch.tensor([[0.2, 0.5], [0.4, 0.9], [0.7, 0.7]])
    out = net(x, t)
    assert out.shape == x.shape
    later = t.clone()
    later[:, 1] += 0.1
    assert not torch.allclose(out, net(x, later))  # the second time changes the output
    earlier = t.clone()
    earlier[:, 0] -= 0.1
    assert not torch.allclose(out, net(x, earlier))
    assert torch.allclose(net(x, torch.tensor([0.2, 0.5])), net(x, t[:1].expand(3, -1)))  # two for all


def test_one_time_input_is_the_default_and_three_are_refused():
    assert UNet(1, base_width=8).time_inputs == 1
    assert UNet(1, base_width=8).time[0].in_features == 8
    for bad in (0, 3):
        with pytest.raises(ValueError, match=f"time_inputs must be 1 or 2, got {bad}"):
            UNet(1, base_width=8, time_inputs=bad)


def test_time_scale_is_what_times_are_multiplied_by_before_their_features():
    torch.manual_seed(0)
    fast = UNet(1, base_width=8, channel_mults=(1, 2), time_scale=1000.0)
    slow = UNet(1, base_width=8, channel_mults=(1, 2), time_scale=1.0)
    slow.load_state_dict(fast.state_dict())
    with torch.no_grad():
        for p in fast.parameters():
            p.add_(0.05 * torch.randn_like(p))
    slow.load_state_dict(fast.state_dict())
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([0.0003, 0.0007])
    torch.testing.assert_close(slow(x, t * 1000), fast(x, t))
    assert not torch.allclose(slow(x, t), fast(x, t))
    with pytest.raises(ValueError, match="time_scale"):
        UNet(1, base_width=8, time_scale=0.0)
