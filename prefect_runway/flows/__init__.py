"""The reusable flows: import, run and deploy them from the installed package.

Each module also runs from a shell: ``python -m prefect_runway.flows.s3_image_to_video --help``
(likewise ``collect_videos``, ``drive_batch`` and ``reconcile_spend``). Deployment entrypoints
name the module's file, e.g. ``prefect_runway/flows/s3_image_to_video.py:s3_image_to_video``
from a checkout.

Example:
    ```python
    # not run: serve() runs until stopped
    from prefect_runway.flows import s3_image_to_video

    s3_image_to_video.serve(name="nightly", cron="0 2 * * *", parameters={"bucket": "stills"})
    ```
"""

import warnings

# ``python -m prefect_runway.flows.<module>`` imports this package, which imports the module
# (the flows share their module's names, so they must be bound here, after the submodules),
# and then runpy runs it again as __main__ with a RuntimeWarning about the first import. That
# is expected here and harmless (the module defines its flow twice), so only it is hidden.
warnings.filterwarnings(
    "ignore", message=r"'prefect_runway\.flows\.\w+' found in sys\.modules", category=RuntimeWarning
)

from prefect_runway.flows.collect_videos import collect_videos  # noqa: E402
from prefect_runway.flows.drive_batch import drive_batch  # noqa: E402
from prefect_runway.flows.generate_from_table import generate_from_table  # noqa: E402
from prefect_runway.flows.pipeline import run_pipeline  # noqa: E402
from prefect_runway.flows.reconcile_spend import reconcile_spend  # noqa: E402
from prefect_runway.flows.s3_image_to_video import s3_image_to_video  # noqa: E402

__all__ = [
    "collect_videos", "drive_batch", "generate_from_table", "reconcile_spend", "run_pipeline",
    "s3_image_to_video",
]
