"""``python -m rag.cli``, as scripts and older docs call it: the CLI itself lives in ui/cli.py (the ``kbqa``
command). The one module of rag that imports ui, by design: an entry point, not library code."""

from ui.cli import app, main

__all__ = ["app", "main"]

if __name__ == "__main__":
    main()
