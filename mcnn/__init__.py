"""M-CNN."""
