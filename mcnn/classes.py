"""Class lists, the VOC palette and the ImageNet-VID WordNet-id mapping."""

from __future__ import annotations

import numpy as np

#: The ten YouTube-Objects classes (also the paper's 10-class VOC protocol).
YTO_CLASSES = (
    "aeroplane",
    "bird",
    "boat",
    "car",
    "cat",
    "cow",
    "dog",
    "horse",
    "motorbike",
    "train",
)

#: PASCAL VOC 2012 labels; index = label value in SegmentationClass PNGs (255 = void).
VOC_CLASSES = (
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)

VOID = 255

#: ImageNet-VID WordNet ids of the classes it shares with YouTube-Objects.
VID_WNID_TO_CLASS = {
    "n02691156": "aeroplane",
    "n01503061": "bird",
    "n04530566": "boat",  # "watercraft" in ILSVRC VID
    "n02958343": "car",
    "n02121808": "cat",  # "domestic_cat"
    "n02402425": "cow",  # "cattle"
    "n02084071": "dog",
    "n02374451": "horse",
    "n03790512": "motorbike",
    "n04468005": "train",
}


def voc_palette() -> np.ndarray:
    """The standard 256-entry PASCAL VOC colour map, (256, 3) uint8."""
    palette = np.zeros((256, 3), dtype=np.uint8)
    for label in range(256):
        c, r, g, b = label, 0, 0, 0
        for shift in range(7, -1, -1):
            r |= ((c >> 0) & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette[label] = (r, g, b)
    return palette


def label_palette(classes) -> np.ndarray:
    """(256, 3) colours of our labels (0 = background, classes[k] = k + 1) in VOC colours.

    A class with a VOC name gets its VOC colour, so pictures read like VOC ground truth; any
    other class keeps the palette entry of its label value.
    """
    palette = voc_palette()
    colours = palette.copy()
    for label, name in enumerate(classes, start=1):
        if name in VOC_CLASSES:
            colours[label] = palette[VOC_CLASSES.index(name)]
    return colours
