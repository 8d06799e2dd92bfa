"""Named points where a build can be made to die on purpose, for crash-safety tests.

Setting ``HEALTHSEARCH_FAILPOINT=<name>`` makes the process kill itself with SIGKILL when it reaches that point,
exactly as a power cut or the OOM killer would. Unset (always, in normal use) it costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

POINTS = ("embedding", "writing", "before-swap")


def reach(name: str) -> None:
    """Die here if the environment asks for it."""
    if os.environ.get("HEALTHSEARCH_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
