"""Evaluation of trained networks: VOC IoU (`voc`), co-localization CorLoc (`coloc`), result
tables like the paper's Tables 1, 2 and 4 (`tables`) and qualitative figures (`figures`)."""
