"""The FastAPI app: every loaded run behind the same endpoints, a web page, metrics and limits.

Inference never runs on the event loop: each model has one worker thread (its sample requests
batched, see :mod:`genmodels.serve.batching`), and streamed generation has threads of its own, so a
slow request never holds up ``/health`` or another model.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import torch
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from genmodels.errors import ConfigError, GenmodelsError
from genmodels.serve import schemas
from genmodels.serve.batching import DynamicBatcher
from genmodels.serve.metrics import ServerMetrics
from genmodels.serve.served import RequestError, ServedModel

STATIC = files("genmodels.serve") / "static"


@dataclass
class ServerSettings:
    """Limits and switches of a server; every limit answers a clear 4xx when passed."""

    max_samples: int = 256
    max_new_tokens: int = 1024
    max_upload_bytes: int = 10 * 2**20
    max_rows: int = 100_000
    request_timeout: float = 60.0
    token: str | None = None
    cors_origins: Sequence[str] = ()
    batching: bool = True
    batch_window: float = 0.005
    max_batch_samples: int = 512
    stream_threads: int = 4
    render_threads: int = 4


@dataclass
class ModelWorker:
    served: ServedModel
    executor: ThreadPoolExecutor
    batcher: DynamicBatcher


@dataclass
class ServerState:
    settings: ServerSettings
    workers: dict[str, ModelWorker]
    metrics: ServerMetrics
    stream_executor: ThreadPoolExecutor
    render_executor: ThreadPoolExecutor
    active_streams: set[threading.Event] = field(default_factory=set)


class GenerationStopped(Exception):
    """Raised inside the generation thread when its client has gone or its time is up."""


def load_models(runs: Sequence[Path]) -> list[ServedModel]:
    """Each run loaded once, named by its directory; two runs of the same name are refused."""
    names = [Path(run).resolve().name for run in runs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(f"runs share the directory name(s) {repeated}; the server names models by directory")
    return [ServedModel.load(name, Path(run)) for name, run in zip(names, runs, strict=True)]


def create_app(models: Sequence[ServedModel], settings: ServerSettings | None = None) -> FastAPI:
    """The app serving ``models`` (see :func:`load_models`) under ``settings``."""
    settings = settings or ServerSettings()
    metrics = ServerMetrics()
    workers = {}
    for served in models:
        executor = ThreadPoolExecutor(1, thread_name_prefix=f"genmodels-{served.name}")
        batcher = DynamicBatcher(
            executor, settings.batch_window, settings.max_batch_samples, settings.batching,
            on_batch=lambda requests, rows, name=served.name: metrics.observe_batch(name, requests, rows),
            device=str(served.model.device),
        )  # fmt: skip
        workers[served.name] = ModelWorker(served, executor, batcher)
    state = ServerState(
        settings, workers, metrics, ThreadPoolExecutor(settings.stream_threads, "genmodels-stream"),
        ThreadPoolExecutor(settings.render_threads, "genmodels-render"),
    )  # fmt: skip

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        for event in list(state.active_streams):  # streams end at their next token
            event.set()
        for worker in workers.values():
            worker.executor.shutdown(wait=True)
        state.stream_executor.shutdown(wait=True)
        state.render_executor.shutdown(wait=True)

    app = FastAPI(
        title="genmodels",
        summary="Trained generative models: sample, generate, score.",
        lifespan=lifespan,
        responses={401: {"description": "Missing or wrong API token"}},
    )
    app.state.server = state
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["*"],
                           allow_headers=["*"])  # fmt: skip
    app.add_middleware(LimitsAndMetrics, state=state)
    _add_error_handlers(app)
    guard = [Depends(_token_check(settings.token))]

    @app.get("/health", response_model=schemas.Health, tags=["server"])
    async def health() -> schemas.Health:
        return schemas.Health(models=list(workers))

    @app.get("/metrics", tags=["server"], dependencies=guard, response_class=Response)
    async def prometheus_metrics() -> Response:
        for name, worker in workers.items():
            metrics.queue_depth.labels(name).set(worker.batcher.queued)
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.get("/models", response_model=list[schemas.ModelInfo], tags=["models"], dependencies=guard)
    async def list_models() -> list[schemas.ModelInfo]:
        return [worker.served.info() for worker in workers.values()]

    @app.post(
        "/models/{name}/sample",
        response_model=schemas.SampleResponse,
        tags=["models"],
        dependencies=guard,
        responses={200: {"content": {"image/png": {}}, "description": "JSON samples, or a PNG grid"}},
    )
    async def sample(name: str, request: schemas.SampleRequest) -> Any:
        """Samples under a seed, batched with the requests that arrive together; a PNG grid with format png."""
        worker = _worker(workers, name)
        if request.n > settings.max_samples:
            raise RequestError(["body", "n"], f"n must be at most {settings.max_samples} (--max-samples)")
        key, draw = worker.served.sampler(request)
        rows = await _within(settings, worker.batcher.sample(key, draw, request.n, request.seed))
        loop = asyncio.get_running_loop()  # encoded in a shared thread, while the model's thread draws the next batch
        body = await loop.run_in_executor(state.render_executor, worker.served.render_samples, rows, request)
        return Response(body, media_type="image/png") if isinstance(body, bytes) else body

    @app.post(
        "/models/{name}/generate",
        tags=["models"],
        dependencies=guard,
        response_model=schemas.GenerateResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "token events, then done"}},
    )
    async def generate(name: str, request: schemas.GenerateRequest) -> Any:
        """Text from a prompt, as server-sent events (``token`` with new text, then ``done``), or one JSON answer."""
        worker = _worker(workers, name)
        if not worker.served.info().capabilities.generate:
            raise RequestError(
                ["path", "name"], f"{name!r} holds {worker.served.data_kind}; generate needs a text model", 400
            )
        if request.max_new_tokens > settings.max_new_tokens:
            raise RequestError(["body", "max_new_tokens"], f"max_new_tokens must be at most {settings.max_new_tokens}")
        events = _generation_events(state, worker.served, request)
        if request.stream:
            return StreamingResponse(
                _sse(events), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
            )
        async for kind, data in events:
            if kind == "done":
                return schemas.GenerateResponse(**data)
            if kind == "error":
                raise RequestError(["body"], data["message"], data.get("status", 422))
        raise RequestError(["body"], "generation stopped", 408)

    score_body = {
        "content": {
            "application/json": {"schema": schemas.RowsRequest.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "array", "items": {"type": "string", "format": "binary"}}},
                }
            },
        },
        "required": True,
    }

    async def answer_rows(name: str, request: Request, answer: Callable[..., Any]) -> Any:
        """Read the rows of a score or log_prob request, then answer them in the model's worker thread."""
        worker = _worker(workers, name)
        x, raw, labels = await _rows(request, worker.served, settings)
        loop = asyncio.get_running_loop()
        return await _within(settings, loop.run_in_executor(worker.executor, answer, worker.served, x, raw, labels))

    @app.post("/models/{name}/score", response_model=schemas.ScoreResponse, tags=["models"], dependencies=guard,
              openapi_extra={"requestBody": score_body})  # fmt: skip
    async def score(name: str, request: Request) -> schemas.ScoreResponse:
        """Anomaly scores of JSON rows or an uploaded file; with a saved detector, flags at its threshold."""
        return await answer_rows(name, request, lambda served, x, raw, labels: served.score(x, raw))

    @app.post("/models/{name}/log_prob", response_model=schemas.LogProbResponse, tags=["models"], dependencies=guard,
              openapi_extra={"requestBody": score_body})  # fmt: skip
    async def log_prob(name: str, request: Request) -> schemas.LogProbResponse:
        """Log-likelihood of each row in nats (exact or the bound ``log_prob_kind`` names)."""
        return await answer_rows(name, request, lambda served, x, raw, labels: served.log_prob(x, labels))

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"))

    return app


def _worker(workers: dict[str, ModelWorker], name: str) -> ModelWorker:
    if name not in workers:
        raise HTTPException(404, f"no model {name!r}; this server has: {', '.join(workers)}")
    return workers[name]


async def _within(settings: ServerSettings, work: Any) -> Any:
    try:
        return await asyncio.wait_for(work, settings.request_timeout)
    except asyncio.TimeoutError:
        raise RequestError(
            ["body"], f"the request took longer than {settings.request_timeout:g} s (--request-timeout)", 408
        ) from None


async def _rows(request: Request, served: ServedModel, settings: ServerSettings) -> tuple[Any, Any, list[int] | None]:
    """Rows from a JSON body or from uploaded files, within the row limit, and the JSON body's labels."""
    content_type, labels = request.headers.get("content-type", ""), None
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=settings.max_rows, max_fields=16)
        uploads = [value for value in form.getlist("file") if isinstance(value, UploadFile)]
        if not uploads:
            raise RequestError(["body", "file"], "upload the rows as a form field named file")
        contents = [(upload.filename or "upload", await upload.read()) for upload in uploads]
        if sum(len(content) for _, content in contents) > settings.max_upload_bytes:
            raise RequestError(["body", "file"], f"uploads must total at most {settings.max_upload_bytes} bytes", 413)
        x, raw = served.rows_from_files(contents)
    else:
        try:
            body = schemas.RowsRequest.model_validate_json(await request.body())
        except ValidationError as error:
            errors = error.errors(include_url=False)
            raise RequestValidationError([{**item, "loc": ("body", *item["loc"])} for item in errors]) from None
        x, raw = served.rows_from_json(body.rows)
        labels = body.labels
    if len(x) > settings.max_rows:
        raise RequestError(
            ["body", "rows"], f"{len(x)} rows; at most {settings.max_rows} per request (--max-rows)", 413
        )
    return x, raw, labels


async def _generation_events(state: ServerState, served: ServedModel, request: schemas.GenerateRequest):
    """``(kind, data)`` pairs as text is generated in a worker thread; stops it when the consumer goes away."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    stop = threading.Event()
    deadline = time.monotonic() + state.settings.request_timeout

    def on_text(piece: str) -> None:
        if stop.is_set() or time.monotonic() > deadline:
            raise GenerationStopped
        loop.call_soon_threadsafe(queue.put_nowait, ("token", {"text": piece}))

    def run() -> None:
        try:
            text = served.model.generate_batch(
                request.prompt, request.max_new_tokens, temperature=request.temperature, top_k=request.top_k,
                top_p=request.top_p, stop=request.stop, seed=request.seed, on_text=on_text,
            )[0]  # fmt: skip
            result = ("done", {"text": text, "new_text": text[len(request.prompt) :]})
        except GenerationStopped:
            result = (
                "error",
                {"message": "generation stopped: the client left or --request-timeout passed", "status": 408},
            )
        except (GenmodelsError, ValueError) as error:
            result = ("error", {"message": str(error), "status": 422})
        loop.call_soon_threadsafe(queue.put_nowait, result)

    state.active_streams.add(stop)
    state.metrics.streams.inc()
    loop.run_in_executor(state.stream_executor, run)
    try:
        while True:
            kind, data = await queue.get()
            yield kind, data
            if kind != "token":
                break
    finally:
        stop.set()
        state.active_streams.discard(stop)
        state.metrics.streams.dec()


def _sse(events):
    async def encoded():
        async for kind, data in events:
            yield f"event: {kind}\ndata: {json.dumps(data)}\n\n"

    return encoded()


def _token_check(token: str | None) -> Callable[[Request], None]:
    def check(request: Request) -> None:
        if token is None:
            return
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(value.encode(), token.encode()):
            raise HTTPException(401, "a valid API token is required: Authorization: Bearer TOKEN",
                                headers={"WWW-Authenticate": "Bearer"})  # fmt: skip

    return check


class LimitsAndMetrics:
    """ASGI middleware: refuse bodies over the upload limit (413) before reading them; count and time requests."""

    def __init__(self, app: Any, state: ServerState) -> None:
        self.app, self.settings, self.metrics = app, state.settings, state.metrics

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.settings.max_upload_bytes + 2**16:
            limit = self.settings.max_upload_bytes
            await _error(413, ["body"], f"request bodies must be at most {limit} bytes")(scope, receive, send)
            self.metrics.observe_request(scope["method"], "unmatched", 413, time.perf_counter() - started)
            return

        async def send_and_note(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self.metrics.in_flight.dec()
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.observe_request(scope["method"], route, status, time.perf_counter() - started)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestError)
    async def refused(request: Request, error: RequestError) -> JSONResponse:
        return _error(error.status, error.loc, error.message)

    @app.exception_handler(GenmodelsError)
    @app.exception_handler(ValueError)
    @app.exception_handler(TypeError)
    async def bad_data(request: Request, error: Exception) -> JSONResponse:
        """What a model refuses in the rows it is given (a shape, a label): the model's own one-line message."""
        return _error(422, ["body"], str(error).splitlines()[0])

    @app.exception_handler(torch.cuda.OutOfMemoryError)
    async def out_of_memory(request: Request, error: Exception) -> JSONResponse:
        return _error(503, ["body"], "the accelerator ran out of memory; ask for fewer samples")


def _error(status: int, loc: Sequence[str | int], message: str) -> JSONResponse:
    kind = {408: "timeout", 413: "too_large"}.get(status, "value_error")
    return JSONResponse({"detail": [{"loc": list(loc), "msg": message, "type": kind}]}, status_code=status)
