"""The index: chunks in Chroma, the BM25 keyword index beside it, and the embedding models."""
