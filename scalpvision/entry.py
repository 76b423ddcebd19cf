"""Entry-point plumbing shared by the CLI and the pipeline stage scripts."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from scalpvision.errors import UserError


def configure_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("alembic", "mlflow", "urllib3", "PIL", "great_expectations", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run_main(fn: Callable[[], int | None]) -> None:
    """Run ``fn``; a user mistake (:class:`UserError`) prints one clear line (no traceback)
    and exits 2; any other exception is a bug and keeps its traceback."""
    from scalpvision.ops.tracking import quiet_environment

    quiet_environment()
    configure_logging()
    try:
        code = fn()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code or 0)
