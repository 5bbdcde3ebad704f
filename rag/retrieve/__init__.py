"""Retrieval: dense and keyword candidates fused into the chunks an answer is made from."""
