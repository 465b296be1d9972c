"""The protocols are runtime-checkable: models are told apart by what they can do."""

from __future__ import annotations

import torch

import genzoo


class _StandardNormal:
    def log_likelihood(self, images: torch.Tensor, *, samples: int = 1,
                       generator: torch.Generator | None = None) -> genzoo.LogLikelihood:
        flat = images.flatten(1)
        values = -0.5 * (flat**2).sum(1) - 0.5 * flat.shape[1] * torch.log(torch.tensor(2 * torch.pi))
        return genzoo.LogLikelihood(values, exact=True)


def test_a_model_with_log_likelihood_is_a_density_model() -> None:
    assert isinstance(_StandardNormal(), genzoo.DensityModel)
    result = _StandardNormal().log_likelihood(torch.zeros(2, 1, 2, 2))
    assert result.exact and result.values.shape == (2,)


def test_a_model_without_log_likelihood_is_not_a_density_model() -> None:
    assert not isinstance(genzoo.build("gan"), genzoo.DensityModel)
