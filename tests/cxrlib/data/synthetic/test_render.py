import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cxrlib.data.synthetic import SYNTH_CLASSES, SynthCXRConfig, place_findings, render_synth_cxr, sample_parameters


@pytest.fixture(scope="module")
def all_positive():
    """Six images with every finding present (prevalence 1.0 given as a float)."""
    cfg = SynthCXRConfig(n=6, image_size=64, seed=1, prevalence=1.0)
    return place_findings(sample_parameters(cfg), cfg.seed)


def _in_batches(params, size: int, batches: list[list[int]]):
    """Render dataset images batch by batch, returned in index order."""
    parts = [render_synth_cxr(params, np.array(b), size, 1) for b in batches]
    order = np.argsort(np.concatenate(batches))
    return [torch.cat([p[j] for p in parts])[order] for j in range(3)]


def _iou_per_class(small: torch.Tensor, big: torch.Tensor) -> dict[str, float]:
    """IoU of ``(B, K, s, s)`` masks with ``(B, K, 2s, 2s)`` masks downsampled by 2×2 majority."""
    pooled = F.avg_pool2d(big.float(), 2) >= 0.5
    inter = (pooled & small).sum((0, 2, 3)).float()
    union = (pooled | small).sum((0, 2, 3)).float()
    return dict(zip(SYNTH_CLASSES, (inter / union).tolist()))


def test_an_image_does_not_depend_on_its_batch(all_positive):
    together = render_synth_cxr(all_positive, np.arange(6), 64, 1)
    apart = _in_batches(all_positive, 64, [[4], [5, 1], [3, 0, 2]])
    for a, b in zip(together[:3], apart):
        assert torch.equal(a, b)
    _, _, _, boxes = render_synth_cxr(all_positive, np.array([3]), 64, 1)
    assert sorted(b[1:] for b in together[3] if b[0] == 3) == sorted(b[1:] for b in boxes)


def test_masks_agree_across_sizes(all_positive):
    """The same findings at 128 and 256 px (rendered in different batches, as datasets of different
    sizes are): only the pixel noise may change with the size."""
    _, m128, _ = _in_batches(all_positive, 128, [[0, 1, 2, 3, 4, 5]])
    _, m256, _ = _in_batches(all_positive, 256, [[4, 5], [2, 3], [0, 1]])
    assert m128.any((2, 3)).all() and m256.any((2, 3)).all()
    iou = _iou_per_class(m128, m256)
    # Atelectasis is a 4-6 px thick band at 128 px: pixel discretisation alone costs ~0.1 of IoU
    assert all(v >= 0.9 for c, v in iou.items() if c != "Atelectasis"), iou
    assert iou["Atelectasis"] >= 0.8, iou
    _, m512, _ = _in_batches(all_positive, 512, [[5], [0, 3], [1, 2, 4]])
    iou = _iou_per_class(m256, m512)
    assert min(iou.values()) >= 0.9, iou


def test_same_anatomy_at_every_size(all_positive):
    small, m64, _, _ = render_synth_cxr(all_positive, np.arange(6), 64, 1)
    big, m256, _, _ = render_synth_cxr(all_positive, np.arange(6), 256, 1)
    pooled = F.avg_pool2d(big[:, None], 4)[:, 0]
    assert np.corrcoef(pooled.flatten(), small.flatten())[0, 1] > 0.9
    assert np.allclose(m64.float().mean((2, 3)), m256.float().mean((2, 3)), atol=0.01)


def test_output_shapes_ranges_and_boxes(all_positive):
    img, masks, marker, boxes = render_synth_cxr(all_positive, np.arange(6), 64, 1)
    assert img.shape == (6, 64, 64) and 0 <= float(img.min()) and float(img.max()) <= 1
    assert masks.shape == (6, len(SYNTH_CLASSES), 64, 64) and masks.dtype == torch.bool
    assert marker.shape == (6, 64, 64) and not marker.any()  # no shortcut asked for
    for row, name, x, y, w, h in boxes:
        inside = masks[row, SYNTH_CLASSES.index(name), int(y) : int(y + h), int(x) : int(x + w)]
        assert inside.any() and w >= 1 and h >= 1
