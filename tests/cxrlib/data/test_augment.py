import pandas as pd
import torch

from cxrlib.data.augment import AugmentedDataset, augment_sample, pylon_augmentation


def test_boxes_and_masks_stay_on_their_finding():
    """A bright square is drawn into a dark image, with its mask and its box; after every random
    augmentation the box still surrounds the bright pixels and the mask still covers them."""
    transform = pylon_augmentation(64)
    for seed in range(25):
        torch.manual_seed(seed)
        image = torch.zeros(1, 64, 64)
        image[0, 20:30, 36:46] = 1.0
        masks = torch.zeros(1, 64, 64, dtype=torch.bool)
        masks[0, 20:30, 36:46] = True
        box = pd.DataFrame({"x": [36.0], "y": [20.0], "w": [10.0], "h": [10.0]})
        out, out_masks, out_boxes = augment_sample(transform, image, masks, box)
        assert out.shape == (1, 64, 64) and out_masks.shape == (1, 64, 64)
        bright = out[0] > 0.5 * out.max()
        if not bright.any():  # the square was cropped away: so is its box
            assert len(out_boxes) == 0
            continue
        ys, xs = torch.nonzero(bright, as_tuple=True)
        x, y, w, h = out_boxes[0].tolist()
        assert x - 1.5 <= xs.min() and xs.max() <= x + w + 1.5
        assert y - 1.5 <= ys.min() and ys.max() <= y + h + 1.5
        inside = out_masks[0][bright].float().mean()
        assert inside > 0.8  # the mask moved with the square (interpolation blurs its edge)


def test_photometric_changes_leave_geometry_alone():
    from torchvision.transforms import v2

    torch.manual_seed(0)
    image = torch.rand(1, 32, 32)
    out, _, boxes = augment_sample(
        v2.ColorJitter(brightness=0.5, contrast=0.5), image, None, torch.tensor([[1.0, 2, 3, 4]])
    )
    assert torch.equal(boxes, torch.tensor([[1.0, 2, 3, 4]]))
    assert out.min() >= 0 and out.max() <= 1


def test_augmented_dataset_keeps_labels_and_shapes():
    class Tiny(torch.utils.data.Dataset):
        image_size = (32, 32)
        classes = ["a"]

        def __len__(self):
            return 2

        def __getitem__(self, i):
            return {
                "image": torch.rand(1, 32, 32),
                "labels": torch.tensor([1.0]),
                "masks": torch.ones(1, 32, 32, dtype=torch.bool),
                "index": torch.tensor(i),
            }

    ds = AugmentedDataset(Tiny())
    item = ds[1]
    assert item["image"].shape == (1, 32, 32) and item["masks"].dtype == torch.bool
    assert item["labels"].tolist() == [1.0] and int(item["index"]) == 1 and ds.classes == ["a"]
