"""The sample image shipped in the package, for quickstarts and smoke tests from any folder.

Example:
    ```python
    from prefect_runway import sample_image, sample_image_data_uri

    png = sample_image()               # bytes of a small PNG (the project's logo)
    uri = sample_image_data_uri()      # the same, as a data:image/png;base64,... URI
    ```

From a shell: ``prefect-runway sample-image > cat.png``.
"""

from __future__ import annotations

import base64
from importlib.resources import files

SAMPLE_NAME = "logo.png"


def sample_image() -> bytes:
    """The bytes of the package's sample PNG (read through `importlib.resources`, so it works
    from a wheel, a zip or a source tree alike)."""
    return files("prefect_runway").joinpath(SAMPLE_NAME).read_bytes()


def sample_image_data_uri() -> str:
    """The sample PNG as a ``data:image/png;base64,...`` URI, ready for ``prompt_image``."""
    return "data:image/png;base64," + base64.b64encode(sample_image()).decode()
