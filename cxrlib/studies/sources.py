"""The sources' protocols, as they state them: one :class:`~cxrlib.studies.departures.SourceProtocol` per
setting a study compares itself with (values not stated are None or "not stated").

- Sharma and Pradeep P. (2023), *Towards reliable chest X-ray classification* (B.Tech report): Table 4.1
  (CE / Custom / Modified, 15 epochs) and Table 4.2 (CE / Focal / DeepAUC, Adam 1e-4, 5 epochs);
  studies 01, 02, 04, 05.
- the anonymous heatmap-loss submission (synthetic cardiac MRI, HiResCAM): study 03.
- Vilter and Daglaroglou, *Bayesian last layer by Laplace approximation* (MURA): study 06.
- Levin, Ruh and Yin, *Learning to defer with Grad-CAM* (a proposal; MIMIC-CXR): study 07.
"""

from __future__ import annotations

from dataclasses import replace

from .departures import SourceProtocol

__all__ = [
    "SHARMA_TABLE_41",
    "SHARMA_TABLE_42",
    "HEATMAP_SUBMISSION",
    "VILTER_LAPLACE",
    "LEVIN_DEFER",
    "PYLON_THESIS",
    "PYLON_TRANSFER",
    "PYLON_REFERENCE_PARAMETERS",
]

_CHEXPERT = "CheXpert: 224,316 radiographs of 65,240 patients; scores on its 200-image validation set"
_SHARMA_EVAL = "CheXpert's 200-image validation set, which also tuned λ1, the learning rate and dropout"

#: Table 4.1 (and the backbone comparison of §4.5): 15 epochs; optimiser not stated for these runs
SHARMA_TABLE_41 = SourceProtocol(
    dataset="chexpert",
    dataset_text=_CHEXPERT,
    image_size=224,
    backbone="densenet121",
    pretrained=True,  # §3.3 "starts learning from the pre trained weights"; §4.3 says random for Custom
    epochs_text="15 epochs, fixed (§4.3)",
    evaluation=_SHARMA_EVAL,
)
#: Table 4.2 / 4.3 (CE, Focal, DeepAUC): "Adam ... 1e-4 and weight decay of 1e-5 ... batch size 64 ... 5 epochs
#: across all loss functions" (§4.6)
SHARMA_TABLE_42 = SourceProtocol(
    dataset="chexpert",
    dataset_text=_CHEXPERT,
    image_size=224,
    backbone="densenet121",
    pretrained=True,
    lr=1e-4,
    weight_decay=1e-5,
    batch_size=64,
    epochs_text="5 epochs, fixed, for every loss (§4.6)",
    evaluation=_SHARMA_EVAL,
)
HEATMAP_SUBMISSION = SourceProtocol(
    dataset="the submission's generator",
    dataset_text="programmatically generated cardiac MRI, 4 balanced classes; 300 test images",
    backbone=None,  # "identical architectures", not described
    pretrained=None,
    optimizer="Keras-Tuner",
    epochs_text="not stated",
    runs_text="~30 models per arm (Exp. 1; 23 and 25 kept), ~50 (Exp. 2; 22 and 23 kept)",
    evaluation="a 300-image test set",
)
VILTER_LAPLACE = SourceProtocol(
    dataset="mura",
    dataset_text="MURA: 36,808 training and 3,197 test images, 7 body parts",
    image_size=224,
    backbone="vilter-cnn",
    pretrained=False,
    lr=1e-3,
    epochs_text="not stated (their Fig. 1 shows the training loss per epoch)",
    evaluation="the 3,197 test images (presumably MURA's validation folder)",
)
LEVIN_DEFER = SourceProtocol(
    dataset="mimic",
    dataset_text="MIMIC-CXR with CheXpert labels (>300,000 images); 70/15/15 patient split, "
    "a separate training split for the error model",
    backbone="densenet121",
    pretrained=True,  # "PyTorch's pretrained Densenet" (§3), though §8 leaves it open
    epochs_text="not stated (a proposal: no results)",
    runs_text="not stated (no results)",
    evaluation="the test split (planned)",
)

#: Preechakul's thesis (PYLON, §5.3): "All experiments used Adam ... learning rate 10^-4 with no weight decay.
#: The learning rate is reduced by 5× when the loss on the validation dataset does not improve for two
#: consecutive epochs ... stopped when the learning rate was reduced by more than two times ... ResNet-50
#: with Imagenet pretrained weights"; batch 64 in the reference code's run names; five seeds (Student-t, n = 5)
PYLON_THESIS = SourceProtocol(
    dataset="nih",
    dataset_text="NIH ChestX-ray14: 112,120 images, the official train/test split with validation taken from "
    "train (70:7:23), all 14 classes trained; 984 boxes of 8 classes for localisation",
    image_size=256,
    backbone="resnet50",
    pretrained=True,
    lr=1e-4,
    weight_decay=0.0,
    batch_size=64,
    epochs_text="until the learning rate was cut more than twice (×0.2 after two epochs without a lower "
    "validation loss); the best validation checkpoint",
    runs_text="5 seeds per model (Student-t, n = 5)",
    evaluation="the boxed images of the official test split",
)
#: the thesis's transfer (Table 5.5): NIH → VinDr-CXR, split 70:10:20 by image, boxes the union of three readers
PYLON_TRANSFER = replace(
    PYLON_THESIS,
    dataset="vindr",
    dataset_text="VinDr-CXR: the official 15,000 training images split 70:10:20 by image (no patient ids), "
    "boxes the union of three radiologists'",
    evaluation="its own 20 % test split",
)

#: Non-encoder parameters of the thesis's configurations in the reference code (cmb-chula/pylon at commit
#: e2d493c; ResNet-50 encoder channels, 128 decoder channels, 14 classes), convolution biases left out
#: (the reference keeps a bias before each BatchNorm, which the BatchNorm cancels; ours drop it). Keys are
#: notebook 08's model names; a test builds each and compares.
PYLON_REFERENCE_PARAMETERS = {
    "pylon": 1_974_657,
    "pylon-up1": 594_817,
    "pylon-up1-no-pyramid": 494_336,
    "pylon-up1-3x3-up": 2_429_825,
    "pylon-up1-3x3-head": 609_153,
    "pan": 2_756_481,
    "pan-no-gap": 2_444_161,
}
