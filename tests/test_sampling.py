"""genzoo.sampling: splitting a model's sampling into chunks."""

from __future__ import annotations

import pytest
import torch

from genzoo.sampling import CPU_SAMPLE_CHUNK, generate_in_chunks


class Recorder:
    """A stand-in ``generate`` that records what each call received."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, list[int] | None, dict]] = []

    def __call__(self, z, labels, **options):
        self.calls.append((z.shape[0], None if labels is None else labels.tolist(), options))
        return z * 2


def test_chunks_cover_every_image_once_with_their_own_labels():
    z, labels = torch.randn(7, 1, 2, 2), torch.arange(7)
    generate = Recorder()
    out = generate_in_chunks(generate, z, labels, chunk=3, steps=4)
    assert torch.equal(out, z * 2)
    assert [c[0] for c in generate.calls] == [3, 3, 1]
    assert [c[1] for c in generate.calls] == [[0, 1, 2], [3, 4, 5], [6]]
    assert all(c[2] == {"steps": 4} for c in generate.calls)


def test_default_chunk_on_a_cpu_and_one_call_when_it_fits():
    generate = Recorder()
    generate_in_chunks(generate, torch.zeros(CPU_SAMPLE_CHUNK + 1, 1))
    assert [c[0] for c in generate.calls] == [CPU_SAMPLE_CHUNK, 1]
    assert generate.calls[0][1] is None
    generate = Recorder()
    generate_in_chunks(generate, torch.zeros(5, 1), chunk=5)
    assert [c[0] for c in generate.calls] == [5]


@pytest.mark.parametrize("chunk", [0, -1, 2.5, True])
def test_a_bad_chunk_is_refused(chunk):
    with pytest.raises(ValueError, match="chunk must be a positive number of images"):
        generate_in_chunks(Recorder(), torch.zeros(3, 1), chunk=chunk)


@pytest.mark.parametrize("name", ["vae", "gan"])
def test_sampling_more_images_than_memory_holds_is_one_line_before_anything_is_drawn(name):
    import genzoo

    model = genzoo.build(name)
    with pytest.raises(genzoo.ConfigError, match=r"^n=1000000000000 images of 1x28x28 take .* "
                                                 r"more than the .*draw at most about \d+ at a time$"):
        model.sample(10**12)
    assert model.sample(2, seed=0).shape == (2, 1, 28, 28)
