"""Evaluation: eval sets, scoring, reports, comparisons and threshold calibration."""
