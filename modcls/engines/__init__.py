"""Inference engines other than the training model itself (see ``modcls.inference.PRECISIONS``)."""
