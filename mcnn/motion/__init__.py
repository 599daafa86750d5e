"""Motion segmentation: optical flow, motion boundaries, inside-outside maps and FST."""
