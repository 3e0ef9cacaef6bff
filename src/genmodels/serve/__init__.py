"""Trained models behind an HTTP API and a web page: ``genmodels serve`` (needs the ``serve`` extra).

:func:`load_models` loads runs once; :func:`create_app` serves them with FastAPI (OpenAPI at ``/docs``).
"""

from genmodels.extras import require_extra

require_extra("serve", "genmodels serve")

from genmodels.serve.app import ServerSettings, create_app, load_models  # noqa: E402

__all__ = ["ServerSettings", "create_app", "load_models"]
