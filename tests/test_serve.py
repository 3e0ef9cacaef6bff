"""The HTTP server: every endpoint, every refusal (a 4xx naming the field), the token, streaming, batching."""

from __future__ import annotations

import asyncio
import io
import json

import httpx
import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from serving_runs import save_serving_runs, transactions

from genmodels.serve import ServerSettings, create_app, load_models
from genmodels.serve.app import _generation_events
from genmodels.serve.schemas import GenerateRequest

BLANK_IMAGE = [[[0.0] * 8] * 8]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return save_serving_runs(tmp_path_factory.mktemp("serving"))


@pytest.fixture(scope="module")
def models(runs):
    return load_models(list(runs.values()))


@pytest.fixture(scope="module")
def client(models):
    with TestClient(create_app(models, ServerSettings(max_samples=64, max_new_tokens=300, max_rows=500))) as client:
        yield client


def refusal(response, status: int = 422) -> tuple[list, str]:
    """The field and message of a refusal, after checking its status."""
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    return (detail[0]["loc"], detail[0]["msg"]) if isinstance(detail, list) else ([], detail)


# --- models and health ------------------------------------------------------------------------
def test_health_and_models_describe_each_model(client):
    assert client.get("/health").json() == {
        "status": "ok",
        "models": ["digits", "gan", "shakespeare", "smiles", "fraud"],
    }
    listed = {model["name"]: model for model in client.get("/models").json()}
    assert {name: model["data_kind"] for name, model in listed.items()} == {
        "digits": "images", "gan": "images", "shakespeare": "text", "smiles": "molecules", "fraud": "table"
    }  # fmt: skip
    digits, gan, text, fraud = listed["digits"], listed["gan"], listed["shakespeare"], listed["fraud"]
    assert digits["family"] == "vae" and digits["num_classes"] == 3 and digits["capabilities"]["labels"]
    assert digits["config"]["latent_dim"] == 4 and digits["provenance"]["data"] == {"source": "digits"}
    assert gan["capabilities"]["log_prob"] is False and gan["capabilities"]["controls"] == ["truncation"]
    assert text["capabilities"]["generate"] and text["capabilities"]["controls"] == ["temperature", "top_k", "top_p"]
    assert fraud["capabilities"]["detector"] and fraud["columns"] == ["amount", "hour", "channel"]


def test_openapi_schema_types_the_requests_and_the_page_ships_with_the_package(client):
    schema = client.get("/openapi.json").json()
    sample = schema["paths"]["/models/{name}/sample"]["post"]
    assert sample["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("SampleRequest")
    assert {"n", "seed", "labels", "temperature", "truncation"} <= set(
        schema["components"]["schemas"]["SampleRequest"]["properties"]
    )
    assert "multipart/form-data" in schema["paths"]["/models/{name}/score"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200
    page = client.get("/").text
    assert '<script src="/static/app.js">' in page and "http" not in page.split("<body>")[1].replace("/docs", "")
    assert client.get("/static/app.js").status_code == 200 and client.get("/static/style.css").status_code == 200


# --- sampling ------------------------------------------------------------------------------------
def test_image_samples_as_png_grid_and_as_arrays_match_the_model(client, models):
    digits = models[0].model
    picture = client.post("/models/digits/sample", json={"n": 4, "seed": 5, "labels": 2, "format": "png"})
    assert picture.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(picture.content)).size[0] >= 512
    arrays = client.post("/models/digits/sample", json={"n": 4, "seed": 5, "labels": 2}).json()
    expected = digits.sample(4, torch.Generator().manual_seed(5), labels=2)
    assert arrays["shape"] == [4, 1, 8, 8]
    assert torch.allclose(torch.tensor(arrays["samples"]), expected, atol=1e-6)


def test_text_molecule_and_table_samples(client, models):
    gpt = models[2].model
    texts = client.post("/models/shakespeare/sample", json={"n": 2, "seed": 1, "temperature": 0.7}).json()["texts"]
    expected = gpt.sample(2, torch.Generator().manual_seed(1), temperature=0.7)
    assert texts == [gpt.tokenizer.decode(row.tolist()) for row in expected]
    molecules = client.post("/models/smiles/sample", json={"n": 5, "seed": 0, "max_length": 30}).json()
    assert len(molecules["molecules"]) == 5 and 0 <= molecules["valid_fraction"] <= 1
    assert all(set(entry["properties"]) == {"qed", "logp", "sa", "weight"} for entry in molecules["molecules"])
    table = client.post("/models/fraud/sample", json={"n": 3}).json()
    assert table["columns"] == ["amount", "hour", "channel"] and len(table["rows"]) == 3
    assert all(row["channel"] in ("web", "shop", "phone") for row in table["rows"])


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"n": 65}, "n", "at most 64"),
        ({"n": 0}, "n", "greater than or equal to 1"),
        ({"n": "many"}, "n", "valid integer"),
        ({"seed": -1}, "seed", "greater than or equal to 0"),
        ({"temperature": 0.5}, "temperature", "does not take temperature"),
        ({"labels": 3}, "labels", "[0, 3)"),
        ({"format": "gif"}, "format", "'png' or 'json'"),
        ({"colour": "red"}, "colour", "Extra inputs"),
        ({"max_length": 5}, "max_length", "molecule models only"),
    ],
)
def test_sample_refuses_bad_requests_naming_the_field(client, body, field, words):
    loc, message = refusal(client.post("/models/digits/sample", json=body))
    assert loc == ["body", field] and words in message


def test_other_sample_refusals(client):
    assert refusal(client.post("/models/shakespeare/sample", json={"format": "png"}))[0] == ["body", "format"]
    assert refusal(client.post("/models/shakespeare/sample", json={"top_p": 1.5}))[0] == ["body", "top_p"]
    assert refusal(client.post("/models/gan/sample", json={"labels": 1}))[0] == ["body", "labels"]
    assert "no model 'nope'" in refusal(client.post("/models/nope/sample", json={}), 404)[1]
    broken = client.post("/models/digits/sample", content=b"{n: 3", headers={"content-type": "application/json"})
    assert refusal(broken)[1].startswith("JSON decode error")


# --- generation -----------------------------------------------------------------------------------
def events_of(stream_text: str) -> list[tuple[str, dict]]:
    events = []
    for block in stream_text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_streamed_tokens_add_up_to_the_generated_text(client, models):
    request = {"prompt": "to be", "max_new_tokens": 40, "seed": 3, "temperature": 0.9}
    with client.stream("POST", "/models/shakespeare/generate", json=request) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = events_of(response.read().decode())
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "done" and set(kinds[:-1]) == {"token"} and len(kinds) > 5
    done = events[-1][1]
    assert "".join(data["text"] for _, data in events[:-1]) == done["new_text"]
    assert done["text"] == "to be" + done["new_text"]
    expected = models[2].model.generate("to be", 40, seed=3, temperature=0.9)
    assert done["text"] == expected
    whole = client.post("/models/shakespeare/generate", json={**request, "stream": False}).json()
    assert whole == done


def test_generate_refusals(client):
    assert refusal(client.post("/models/shakespeare/generate", json={"max_new_tokens": 301}))[0] == [
        "body", "max_new_tokens"
    ]  # fmt: skip
    assert refusal(client.post("/models/shakespeare/generate", json={"temperature": -1}))[0] == ["body", "temperature"]
    assert "needs a text model" in refusal(client.post("/models/digits/generate", json={}), 400)[1]


def test_a_client_that_leaves_stops_its_generation(models):
    app = create_app(models[2:3], ServerSettings(max_new_tokens=5000, stream_threads=1))
    state, gpt = app.state.server, models[2].model
    outcomes = []
    original = gpt.generate_batch

    def recording(*args, **kwargs):
        try:
            outcomes.append(("finished", original(*args, **kwargs)))
        except Exception as error:
            outcomes.append((type(error).__name__, None))
            raise
        return outcomes[-1][1]

    async def leave_after_the_first_token():
        events = _generation_events(state, models[2], GenerateRequest(max_new_tokens=5000, seed=0))
        kind, _ = await events.__anext__()
        await events.aclose()
        await asyncio.get_running_loop().run_in_executor(
            state.stream_executor, lambda: None
        )  # the stream's thread done
        return kind

    gpt.generate_batch = recording
    try:
        assert asyncio.run(leave_after_the_first_token()) == "token"
    finally:
        del gpt.generate_batch
    assert outcomes == [("GenerationStopped", None)] and not state.active_streams


# --- scoring ----------------------------------------------------------------------------------------
def test_table_rows_scored_as_json_and_as_upload_agree_with_the_detector(client, models):
    fraud = models[4]
    table = transactions(20, seed=1)
    table.loc[3, "amount"] = 900.0
    response = client.post("/models/fraud/score", json={"rows": table.to_dict("records")})
    assert response.status_code == 200, response.text
    scored = response.json()
    expected = fraud.detector.score(fraud.model.preprocessor.transform(table))
    assert np.allclose([row["score"] for row in scored["rows"]], expected, rtol=1e-5)
    assert scored["threshold"] == pytest.approx(fraud.detector.threshold)
    assert [row["flag"] for row in scored["rows"]] == (expected > fraud.detector.threshold).tolist()
    assert scored["rows"][3]["flag"] and scored["rows"][3]["rank"] == 1 and scored["flagged"] >= 1
    assert set(scored["rows"][0]["columns"]) == {"amount", "hour", "channel"}
    upload = client.post("/models/fraud/score", files={"file": ("new.csv", table.to_csv(index=False).encode())})
    assert upload.json() == scored


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        ([{"amount": 1.0, "hour": 2}], "lacks column(s) ['channel']"),
        ([{"amount": None, "hour": 2, "channel": "web"}], "missing values (NaN) in column(s) {'amount': 1}"),
        ([{"amount": 1.0, "hour": 2, "channel": "fax"}], "column 'channel' has categories never seen in training"),
        (["CCO"], "rows given as objects"),
    ],
)
def test_table_scoring_refusals_name_the_column(client, rows, words):
    loc, message = refusal(client.post("/models/fraud/score", json={"rows": rows}))
    assert loc == ["body", "rows"] and words in message


def test_upload_refusals(client):
    unknown = client.post("/models/fraud/score", files={"file": ("new.csv", b"amount,hour,channel\n1,2,fax\n")})
    assert refusal(unknown)[1].startswith("new.csv: column 'channel' has categories never seen")
    empty = client.post("/models/fraud/score", files={"file": ("new.csv", b"amount,hour,channel\n")})
    assert "new.csv has no rows" in refusal(empty)[1]
    assert refusal(client.post("/models/fraud/score", files={"file": ("rows.xlsx", b"PK")}))[0] == ["body", "file"]
    picture = io.BytesIO()
    Image.new("L", (10, 8)).save(picture, format="PNG")
    wrong_size = client.post("/models/gan/score", files={"file": ("a.png", picture.getvalue())})
    assert "a.png is 10x8; the model takes 8x8 images" in refusal(wrong_size)[1]
    too_many = client.post("/models/fraud/score", json={"rows": transactions(501).to_dict("records")})
    assert refusal(too_many, 413)[0] == ["body", "rows"]
    assert refusal(client.post("/models/fraud/score", json={"rows": []}))[0] == ["body", "rows"]


def test_images_score_from_arrays_and_files_and_log_prob_names_its_kind(client, models):
    picture = io.BytesIO()
    Image.new("L", (8, 8), color=255).save(picture, format="PNG")
    from_file = client.post("/models/gan/score", files={"file": ("white.png", picture.getvalue())}).json()
    from_json = client.post("/models/gan/score", json={"rows": [[[[1.0] * 8] * 8]]}).json()
    assert from_file["rows"][0]["score"] == pytest.approx(from_json["rows"][0]["score"], rel=1e-5)
    assert from_file["score"] == "critic" and from_file["threshold"] is None and from_file["rows"][0]["flag"] is None
    array = io.BytesIO()
    np.save(array, np.zeros((2, 1, 8, 8), dtype=np.float32))
    assert len(client.post("/models/gan/score", files={"file": ("x.npy", array.getvalue())}).json()["rows"]) == 2
    assert "rows have shape [8, 8]" in refusal(client.post("/models/gan/score", json={"rows": BLANK_IMAGE}))[1]
    assert "no likelihood" in refusal(client.post("/models/gan/log_prob", json={"rows": [BLANK_IMAGE]}), 400)[1]
    values = client.post("/models/digits/log_prob", json={"rows": [BLANK_IMAGE], "labels": [1]}).json()
    assert values["log_prob_kind"] == "importance_weighted" and len(values["log_prob"]) == 1
    assert refusal(client.post("/models/digits/log_prob", json={"rows": [BLANK_IMAGE]}))[0] == ["body", "labels"]
    assert "use log_prob" in refusal(client.post("/models/digits/score", json={"rows": [BLANK_IMAGE]}), 400)[1]


def test_text_lines_score_by_their_likelihood(client, models):
    from genmodels.applications.molecules.voting import line_log_likelihood

    scored = client.post("/models/smiles/score", json={"rows": ["CCO", "c1ccccc1"]}).json()
    expected = -line_log_likelihood(models[3].model, ["CCO", "c1ccccc1"])
    assert np.allclose([row["score"] for row in scored["rows"]], expected, rtol=1e-5)
    upload = client.post("/models/smiles/score", files={"file": ("few.smi", b"CCO\nc1ccccc1\n")}).json()
    assert upload == scored
    log_prob = client.post("/models/smiles/log_prob", json={"rows": ["CCO"]}).json()
    assert log_prob["log_prob_kind"] == "exact_mean_per_token" and log_prob["log_prob"][0] == pytest.approx(
        -expected[0]
    )


# --- limits, token, metrics, CORS --------------------------------------------------------------------
def test_bodies_over_the_upload_limit_are_refused_before_reading(models):
    with TestClient(create_app(models[4:], ServerSettings(max_upload_bytes=1000))) as small:
        response = small.post(
            "/models/fraud/score", files={"file": ("big.csv", b"amount,hour,channel\n" + b"1,2,web\n" * 20000)}
        )
        assert refusal(response, 413)[0] == ["body"]


def test_token_guards_every_endpoint_but_health(models):
    with TestClient(create_app(models[:1], ServerSettings(token="s3cret"))) as guarded:
        assert guarded.get("/health").status_code == 200
        for method, path, body in [("GET", "/models", None), ("GET", "/metrics", None),
                                   ("POST", "/models/digits/sample", {"n": 1}),
                                   ("POST", "/models/digits/log_prob", {"rows": [BLANK_IMAGE], "labels": [0]}),
                                   ("POST", "/models/digits/score", {"rows": [BLANK_IMAGE]}),
                                   ("POST", "/models/digits/generate", {})]:  # fmt: skip
            assert guarded.request(method, path, json=body).status_code == 401
            wrong = guarded.request(method, path, json=body, headers={"Authorization": "Bearer guess"})
            assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        right = {"Authorization": "Bearer s3cret"}
        assert guarded.get("/models", headers=right).status_code == 200
        assert guarded.post("/models/digits/sample", json={"n": 1}, headers=right).status_code == 200


def test_cors_is_off_by_default_and_on_for_named_origins(client, models):
    preflight = {"Origin": "https://example.org", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in client.options("/models", headers=preflight).headers
    with TestClient(create_app(models[:1], ServerSettings(cors_origins=["https://example.org"]))) as open_client:
        allowed = open_client.options("/models", headers=preflight).headers
        assert allowed["access-control-allow-origin"] == "https://example.org"


def test_metrics_count_requests_in_the_prometheus_format(client):
    client.get("/models")
    text = client.get("/metrics").text
    assert 'genmodels_requests_total{method="GET",route="/models",status="200"}' in text
    assert 'genmodels_queue_depth{model="digits"} 0.0' in text
    assert "genmodels_request_seconds_bucket" in text and "genmodels_batch_rows_bucket" in text


# --- batching -----------------------------------------------------------------------------------------
async def sample_concurrently(app, model: str, requests: list[dict]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://server") as http:
        return await asyncio.gather(*(http.post(f"/models/{model}/sample", json=body) for body in requests))


@pytest.mark.parametrize(
    ("model", "body"), [("digits", {"format": "png", "labels": 1}), ("shakespeare", {"temperature": 0.8})]
)
def test_concurrent_requests_share_one_pass_and_each_gets_its_own_seeded_samples(models, model, body):
    requests = [{**body, "n": n, "seed": seed} for n, seed in [(3, 11), (1, 12), (4, 13), (2, 14), (5, 15)]]
    batched_app = create_app(models, ServerSettings(batch_window=0.5))
    together = asyncio.run(sample_concurrently(batched_app, model, requests))
    stats = batched_app.state.server.workers[model].batcher.stats
    assert stats.passes == 1 and stats.batch_sizes == [15]
    lone_app = create_app(models, ServerSettings(batching=False))
    for request, response in zip(requests, together, strict=True):
        (alone,) = asyncio.run(sample_concurrently(lone_app, model, [request]))
        assert response.status_code == alone.status_code == 200
        assert response.content == alone.content
    assert lone_app.state.server.workers[model].batcher.stats.passes == len(requests)


def test_requests_with_different_controls_are_not_mixed(models):
    app = create_app(models, ServerSettings(batch_window=0.5))
    bodies = [{"n": 2, "seed": 1, "labels": 0}, {"n": 2, "seed": 1, "labels": 2}, {"n": 2, "seed": 2, "labels": 0}]
    responses = asyncio.run(sample_concurrently(app, "digits", bodies))
    assert sorted(app.state.server.workers["digits"].batcher.stats.batch_sizes) == [2, 4]
    samples = [torch.tensor(response.json()["samples"]) for response in responses]
    expected = models[0].model.sample(2, torch.Generator().manual_seed(1), labels=2)
    assert torch.allclose(samples[1], expected, atol=1e-6)


# --- shutdown --------------------------------------------------------------------------------------------
def test_shutdown_lets_requests_in_flight_finish(models):
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(models[2:3], ServerSettings(max_new_tokens=2000))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    answers = []
    request = {"prompt": "to be", "max_new_tokens": 1500, "seed": 0, "stream": False}
    caller = threading.Thread(
        target=lambda: answers.append(
            httpx.post(f"http://127.0.0.1:{port}/models/shakespeare/generate", json=request, timeout=120)
        )  # fmt: skip
    )
    caller.start()
    while not app.state.server.active_streams:  # until the generation has started
        time.sleep(0.01)
    server.should_exit = True
    caller.join(120)
    thread.join(120)
    assert answers[0].status_code == 200 and len(answers[0].json()["new_text"]) == 1500
