"""Evaluation of modcls models: metrics, reports and the model card."""
