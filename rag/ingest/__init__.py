"""Ingest: reading articles (Markdown, HTML, PDF, blog exports), parsing them into blocks, chunking, uploads."""
