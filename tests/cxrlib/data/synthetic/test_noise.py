import numpy as np
import torch
import torch.nn.functional as F

from cxrlib.data.synthetic.noise import ImageRandom


def _grid(b: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    t = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1
    v, u = torch.meshgrid(t, t, indexing="ij")
    return u.expand(b, -1, -1), v.expand(b, -1, -1)


def test_each_image_has_its_own_streams():
    a = ImageRandom(3, [0, 1, 2, 3]).normal("x", (5,))
    b = ImageRandom(3, [2, 0]).normal("x", (5,))
    assert torch.equal(a[2], b[0]) and torch.equal(a[0], b[1])  # independent of the batch
    assert not torch.equal(a[0], a[1])  # images differ
    assert not torch.equal(a[0], ImageRandom(3, [0]).normal("y", (5,))[0])  # streams differ
    assert not torch.equal(a[0], ImageRandom(4, [0]).normal("x", (5,))[0])  # seeds differ
    assert torch.equal(ImageRandom(3, [0, 1, 2, 3]).take(np.array([3, 1])).normal("x", (5,)), a[[3, 1]])


def test_smooth_field_has_unit_rms_and_does_not_depend_on_the_size():
    random = ImageRandom(0, np.arange(12))
    small = random.smooth_field("f", 12, *_grid(12, 64))
    big = random.smooth_field("f", 12, *_grid(12, 256))
    assert abs(float(big.pow(2).mean().sqrt()) - 1) < 0.1
    # the same field sampled more finely: average-pooling 256 → 64 recovers the 64-pixel field
    pooled = F.avg_pool2d(big[:, None], 4)[:, 0]
    assert float((pooled - small).abs().max()) < 0.1
    assert np.corrcoef(pooled.flatten(), small.flatten())[0, 1] > 0.999


def test_radial_streaks_are_nonnegative_and_fade_with_distance():
    random = ImageRandom(0, np.arange(4))
    u, v = _grid(4, 96)
    zero = torch.zeros(4, 1, 1)
    streaks = random.radial_streaks("s", u, v, zero, zero)
    assert streaks.min() >= 0
    r = torch.sqrt(u**2 + v**2)
    assert streaks[r < 0.3].mean() > 3 * streaks[r > 0.9].mean()
