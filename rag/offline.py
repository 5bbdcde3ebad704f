"""Offline by default: the environment set before any Hugging Face, Chroma or Gradio import. A module of its
own so that the CLI can set it without importing them."""

from __future__ import annotations

import os


def offline_environment() -> None:
    """Forbid hub downloads and telemetry before any HF, Chroma or Gradio import runs."""
    for key, value in {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TRANSFORMERS_VERBOSITY": "error",
    }.items():
        os.environ.setdefault(key, value)
