"""Log lines that reach the Prefect run they happen in, and a plain logger outside runs.

The client and the engine log retries and warnings through `log`: inside a flow or task
run the line goes to the run's logger (so it shows in the Prefect UI, with the run), outside
one to the caller's module logger. Prefect is imported only when it is already loaded: the
client stays usable, and cheap to import, without it.

Example:
    ```python
    import logging
    from prefect_runway.runlog import log

    log(logging.getLogger(__name__), logging.WARNING, "Poll of %s failed", task_id)
    ```
"""

from __future__ import annotations

import logging
import sys
from typing import Any


def log(fallback: logging.Logger, level: int, message: str, *args: Any) -> None:
    """Log to the current Prefect run's logger when there is one, else to `fallback`.

    Args:
        fallback: The logger used outside any flow or task run.
        level: A `logging` level.
        message: A %-style message.
        *args: Its arguments.
    """
    logger: Any = fallback
    if "prefect.context" in sys.modules:  # no run can exist before Prefect is loaded
        from prefect.exceptions import MissingContextError
        from prefect.logging import get_run_logger

        try:
            logger = get_run_logger()
        except MissingContextError:
            pass
    logger.log(level, message, *args)
