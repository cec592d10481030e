import numpy as np
import pytest
import scipy.ndimage
import torch

from cxrlib.saliency import class_distinctiveness_loss, connected_components, spatial_coherence_loss


def _reference_labels(m: np.ndarray, threshold: float) -> np.ndarray:
    """Cluster labels by scipy: 8-connected foreground (x ≥ τ·max), 4-connected background."""
    top = max(m.max(), 0.0)
    fg = (m >= threshold * top) & (top > 0)
    fg_lab, n_fg = scipy.ndimage.label(fg, structure=np.ones((3, 3)))
    bg_lab, _ = scipy.ndimage.label(~fg)
    return np.where(fg, fg_lab, bg_lab + n_fg)


def _reference_loss(maps: np.ndarray, window: int = 9, threshold: float = 0.5) -> float:
    """The loss pixel by pixel: for each p, Σ over same-cluster n in its window of (x_p − x_n)²."""
    flat = maps.reshape(-1, *maps.shape[-2:])
    r = window // 2
    totals = []
    for m in flat:
        lab = _reference_labels(m, threshold)
        h, w = m.shape
        for i in range(h):
            for j in range(w):
                s = 0.0
                for di in range(-r, r + 1):
                    for dj in range(-r, r + 1):
                        a, b = i + di, j + dj
                        if 0 <= a < h and 0 <= b < w and lab[a, b] == lab[i, j]:
                            s += (m[i, j] - m[a, b]) ** 2
                totals.append(s)
    return float(np.mean(totals))


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(((a.ravel()[:, None] == a.ravel()[None]) == (b.ravel()[:, None] == b.ravel()[None])).all())


@pytest.mark.parametrize("seed", range(4))
def test_components_and_loss_match_a_pixel_by_pixel_reference(seed):
    g = torch.Generator().manual_seed(seed)
    maps = torch.rand(2, 3, 7, 9, generator=g, dtype=torch.float64) ** 2
    labels = connected_components(maps.reshape(-1, 7, 9))
    for m, lab in zip(maps.reshape(-1, 7, 9).numpy(), labels.numpy(), strict=True):
        assert _same_partition(lab, _reference_labels(m, 0.5))
    for window in (3, 9):
        ours = float(spatial_coherence_loss(maps, window=window))
        assert ours == pytest.approx(_reference_loss(maps.numpy(), window), rel=1e-6, abs=1e-12)


def test_hand_built_maps():
    two_blobs = torch.zeros(1, 12, 12, dtype=torch.float64)
    two_blobs[0, 2:5, 2:5] = 1.0
    two_blobs[0, 2:5, 7:10] = 0.6  # a second cluster 2 pixels away, inside each other's 9×9 windows
    labels = connected_components(two_blobs)[0]
    assert labels[3, 3] != labels[3, 8] and labels[0, 0] == labels[11, 11]
    assert float(spatial_coherence_loss(two_blobs)) == 0.0  # each cluster is constant
    joined = two_blobs.clone()
    joined[0, 3, 5:7] = 0.8  # a bridge: one cluster with three values
    assert float(spatial_coherence_loss(joined)) > 0.0

    ring = torch.zeros(1, 9, 9, dtype=torch.float64)
    ring[0, 1:8, 1:8] = 1.0
    ring[0, 2:7, 2:7] = 0.0  # a hole
    labels = connected_components(ring)[0]
    assert labels[4, 4] != labels[0, 0]  # the hole is not the outside
    assert labels[1, 1] == labels[7, 7]  # the ring is one cluster

    pixel = torch.zeros(1, 9, 9, dtype=torch.float64)
    pixel[0, 4, 4] = 1.0
    labels = connected_components(pixel)[0]
    assert (labels == labels[4, 4]).sum() == 1
    assert float(spatial_coherence_loss(pixel)) == 0.0  # its cluster is itself; the rest is flat
    assert float(spatial_coherence_loss(torch.zeros(2, 1, 5, 5))) == 0.0


def test_gradient_in_float64():
    g = torch.Generator().manual_seed(7)
    maps = (torch.rand(1, 2, 6, 6, generator=g, dtype=torch.float64) + 0.01).requires_grad_()
    assert torch.autograd.gradcheck(lambda m: spatial_coherence_loss(m, window=5), (maps,), eps=1e-7, atol=1e-6)
    with pytest.raises(ValueError, match="odd"):
        spatial_coherence_loss(maps, window=4)


def test_switching_maps_off_is_not_distinct():
    """With latents from the normalised maps, all-zero maps had latents 0 and cosine 0: the loss's
    minimum. Now a vanished map attends to everything, so vanished maps are identical (loss 1)."""
    torch.manual_seed(0)
    features = torch.rand(2, 6, 5, 5)
    assert class_distinctiveness_loss(torch.zeros(2, 3, 5, 5), features).item() == pytest.approx(1.0, abs=1e-6)
    maps = torch.zeros(2, 3, 5, 5)
    maps[:, 0, :2] = 1.0
    maps[:, 1, 3:] = 1.0
    off = class_distinctiveness_loss(maps, features).item()
    maps[:, 2, 2, :] = 1.0  # the third class looks somewhere of its own instead of nowhere
    assert class_distinctiveness_loss(maps, features).item() < off
