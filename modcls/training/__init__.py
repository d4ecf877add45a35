"""Reproducible training of modcls models: configuration, data, the training loop, calibration, baseline."""
