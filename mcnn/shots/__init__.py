"""Shots after motion segmentation: pruning, frame sampling and the training-sample store."""
