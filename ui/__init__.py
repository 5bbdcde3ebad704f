"""kbqa's web app (Gradio chat + REST API). Imported only when the app runs; it calls rag.Pipeline."""
