"""Verification: is a sentence supported by the KB? The groundedness scorer and the trained verifier."""
