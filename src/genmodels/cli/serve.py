"""``genmodels serve``: trained runs behind an HTTP API and a web page (needs the ``serve`` extra)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from genmodels.cli.printing import console

serve_commands = typer.Typer()
TOKEN_ENV = "GENMODELS_SERVE_TOKEN"


@serve_commands.command(
    epilog="Examples:\n\n  genmodels serve runs/vae-mnist5k runs/gpt-shakespeare\n\n"
    "  GENMODELS_SERVE_TOKEN=s3cret genmodels serve runs/fraud --host 0.0.0.0 --port 8080\n\n"
    "  curl -X POST localhost:8000/models/vae-mnist5k/sample -H 'content-type: application/json' "
    '-d \'{"n": 16, "seed": 1, "format": "png"}\' -o grid.png'
)
def serve(
    runs: Annotated[list[Path], typer.Argument(help="Run or saved model directories; each is served by its name.")],
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    token: Annotated[
        Optional[str],
        typer.Option(help=f"API token every endpoint but /health requires \\[default: ${TOKEN_ENV} if set]."),
    ] = None,
    cors_origin: Annotated[
        Optional[list[str]], typer.Option(help="Allow browser pages from this origin (repeatable; off by default).")
    ] = None,
    max_samples: Annotated[int, typer.Option(help="Most samples per request.")] = 256,
    max_new_tokens: Annotated[int, typer.Option(help="Most tokens per generation request.")] = 1024,
    max_upload_mb: Annotated[float, typer.Option(help="Largest request body or upload, in MiB.")] = 10.0,
    max_rows: Annotated[int, typer.Option(help="Most rows per score or log_prob request.")] = 100_000,
    request_timeout: Annotated[float, typer.Option(help="Seconds a request may take before a 408.")] = 60.0,
    batching: Annotated[
        bool, typer.Option(help="Batch sample requests that arrive together into one forward pass.")
    ] = True,
    batch_window_ms: Annotated[float, typer.Option(help="How long a sample request waits for company.")] = 5.0,
    max_batch: Annotated[int, typer.Option(help="Most samples in one batched forward pass.")] = 512,
    graceful_timeout: Annotated[
        float, typer.Option(help="Seconds in-flight requests get to finish on shutdown.")
    ] = 30.0,
) -> None:
    """Serve trained models over HTTP: sample, generate (streamed), score, log_prob; a web page at /, docs at /docs."""
    from genmodels.extras import require_extra

    require_extra("serve", "genmodels serve")
    import uvicorn

    from genmodels.serve import ServerSettings, create_app, load_models

    if not 0 < port < 65536:
        raise typer.BadParameter(f"--port must be in 1..65535, got {port}")
    settings = ServerSettings(
        max_samples=max_samples,
        max_new_tokens=max_new_tokens,
        max_upload_bytes=int(max_upload_mb * 2**20),
        max_rows=max_rows,
        request_timeout=request_timeout,
        token=token or os.environ.get(TOKEN_ENV) or None,
        cors_origins=tuple(cors_origin or ()),
        batching=batching,
        batch_window=batch_window_ms / 1000,
        max_batch_samples=max_batch,
    )
    models = load_models(runs)
    for served in models:
        console.print(f"{served.name}: {served.model.model_type} ({served.data_kind}) from {served.path}")
    console.print(f"page http://{host}:{port}/  API docs http://{host}:{port}/docs")
    uvicorn.run(
        create_app(models, settings),
        host=host,
        port=port,
        timeout_graceful_shutdown=graceful_timeout,
        log_level="warning",
    )
