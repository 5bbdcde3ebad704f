"""Text handling shared by every stage: sentences, condensing a pasted question, follow-ups."""
