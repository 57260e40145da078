"""``sapnet serve``: a local web page and HTTP API that derain photos with the package's models.

- :mod:`sapnet.serve.models`: the models a server offers (bundled, ``official`` when its file is
  present, ``--weights``), each loaded once and kept in memory.
- :mod:`sapnet.serve.jobs`: one upload derained exactly as ``sapnet derain`` derains one file.
- :mod:`sapnet.serve.work_queue`: the bounded queue that runs one job at a time.
- :mod:`sapnet.serve.guard`: request limits and security headers, as ASGI middleware.
- :mod:`sapnet.serve.app`: the Starlette application (``/api/*`` and the page in ``static/``).

Starlette + uvicorn rather than Gradio: two endpoints and one page need no framework of UI
components, and everything the page uses is served from ``static/`` (no CDN, web fonts,
analytics or update checks, which Gradio does by default).
"""

from sapnet.serve.app import Limits, create_app
from sapnet.serve.models import ModelCatalogue, build_catalogue

__all__ = ["Limits", "ModelCatalogue", "build_catalogue", "create_app"]
