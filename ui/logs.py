"""Where the CLI's log lines go: kbqa's own format on stderr, quiet by default (issue 17).

Normal use shows kbqa's warnings only ("Query log … not written"); libraries' warnings, info and debug lines
and Python warnings stay out of a support engineer's terminal. ``-v`` shows kbqa's info lines and the
libraries' warnings; ``-vv`` everything down to debug. An edge concern, so it lives in ui/, not in rag/.
"""

from __future__ import annotations

import logging
import warnings

FORMAT = "kbqa: %(levelname)s %(name)s: %(message)s"
OWN = ("rag", "ui")  # kbqa's loggers


class _OwnOrLoud(logging.Filter):
    """kbqa's records at the handler's level; another library's only when the verbosity asks for them."""

    def __init__(self, others: int) -> None:
        super().__init__()
        self.others = others

    def filter(self, record: logging.LogRecord) -> bool:
        own = record.name.split(".")[0] in OWN
        return own or record.levelno >= self.others


def configure(verbosity: int) -> None:
    """0: kbqa's warnings; 1 (-v): kbqa's info and other libraries' warnings; 2+ (-vv): all debug lines."""
    own_level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbosity, 2)]
    others = (logging.CRITICAL + 1, logging.WARNING, logging.DEBUG)[min(verbosity, 2)]
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(_OwnOrLoud(others))
    root = logging.getLogger()
    for old in list(root.handlers):  # one handler, ours, however often the CLI is invoked in one process
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(min(own_level, others))
    for name in OWN:
        logging.getLogger(name).setLevel(own_level)
    logging.captureWarnings(verbosity > 0)  # Python warnings become log lines under -v, else are not shown
    if verbosity == 0:
        warnings.simplefilter("ignore")
