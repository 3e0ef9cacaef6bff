"""``genmodels serve`` under load: dynamic batching against one forward pass per request, a fuzz run, streaming.

Trains three tiny but real runs (a MADE on the 8x8 digits, a GPT on Tiny Shakespeare, a tabular
MADE detector on a synthetic transactions table), starts the real command (uvicorn on 127.0.0.1)
once with batching and once without, and drives it with 1, 8 and 32 concurrent httpx clients:
image sampling (16 images per request, as a PNG grid and as JSON arrays), text generation and
CSV scoring. Then a fuzz run of malformed requests (every answer must be below 500), and
streaming: time to the first token and tokens per second, beside the same generation run
in-process as ``genmodels generate`` runs it, and the command's wall time.

    python benchmarks/serving.py --output benchmarks/results/serving.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from genmodels.io.versions import software_versions

CONCURRENCY = (1, 8, 32)
REQUESTS_PER_CLIENT = 4
GENMODELS = [sys.executable, "-m", "genmodels"]


def run(command: list[str]) -> str:
    finished = subprocess.run(command, capture_output=True, text=True)
    if finished.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{finished.stdout[-2000:]}\n{finished.stderr[-2000:]}")
    return finished.stdout


def transactions(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.lognormal(3.5, 0.6, rows).round(2),
            "hour": rng.integers(0, 24, rows),
            "channel": rng.choice(["web", "shop", "phone"], rows, p=[0.6, 0.3, 0.1]),
        }
    )


def train_runs(root: Path, steps: int) -> dict[str, Path]:
    """Tiny runs trained for ``steps`` steps through the command line, as a user trains them."""
    runs = {"digits": root / "made-digits", "shakespeare": root / "gpt-shakespeare", "fraud": root / "fraud"}
    run([*GENMODELS, "train", "made", "--data", "digits", "--max-steps", str(steps), "-o", str(runs["digits"]),
         "--set", "model.hidden_sizes=[256]"])  # fmt: skip
    run([*GENMODELS, "train", "gpt", "--data", "shakespeare", "--max-steps", str(steps), "-o",
         str(runs["shakespeare"]), "--set", "model.num_layers=2", "--set", "model.embedding_dim=64",
         "--set", "model.num_heads=4", "--set", "data.context_length=64"])  # fmt: skip
    table = root / "transactions.csv"
    transactions(3000, seed=0).to_csv(table, index=False)
    run([*GENMODELS, "detect", "fit", "--model", "tabular-made", "--data", str(table), "--max-steps", str(steps),
         "-o", str(runs["fraud"])])  # fmt: skip
    return runs


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def server(runs: dict[str, Path], batching: bool):
    """``genmodels serve`` in its own process, until the block ends (then a graceful SIGTERM)."""
    port = free_port()
    command = [*GENMODELS, "serve", *map(str, runs.values()), "--port", str(port), "--max-new-tokens", "4096",
               "--batching" if batching else "--no-batching"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start: {process.stderr.read()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(60)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


async def load_test(url: str, make_request, clients: int) -> dict[str, float]:
    """``clients`` concurrent clients, each sending ``REQUESTS_PER_CLIENT`` requests one after another."""
    latencies, errors = [], 0

    async def client(http: httpx.AsyncClient, number: int) -> None:
        nonlocal errors
        for index in range(REQUESTS_PER_CLIENT):
            started = time.perf_counter()
            try:
                response = await make_request(http, number * REQUESTS_PER_CLIENT + index)
                if response.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - started)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        await make_request(http, -1)  # warm the model's first pass
        started = time.perf_counter()
        await asyncio.gather(*(client(http, number) for number in range(clients)))
        seconds = time.perf_counter() - started
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": errors,
        "requests_per_s": len(latencies) / seconds,
        "p50_s": percentile(latencies, 50),
        "p95_s": percentile(latencies, 95),
        "p99_s": percentile(latencies, 99),
    }


def scenarios(csv_bytes: bytes) -> dict[str, object]:
    return {
        "image sampling (16 images, PNG grid)": lambda http, i: http.post(
            "/models/made-digits/sample", json={"n": 16, "seed": max(i, 0), "format": "png"}
        ),
        "image sampling (16 images, JSON arrays)": lambda http, i: http.post(
            "/models/made-digits/sample", json={"n": 16, "seed": max(i, 0), "format": "json"}
        ),
        "text generation (64 tokens)": lambda http, i: http.post(
            "/models/gpt-shakespeare/generate",
            json={"prompt": "ROMEO:", "max_new_tokens": 64, "seed": max(i, 0), "stream": False},
        ),
        "CSV scoring (200 rows)": lambda http, i: http.post(
            "/models/fraud/score", files={"file": ("rows.csv", csv_bytes, "text/csv")}
        ),
    }


def fuzz(url: str, requests: int, seed: int = 0) -> dict[str, object]:
    """Malformed requests of every kind; counts the answers by status code."""
    rng = random.Random(seed)
    paths = ["/models/made-digits/sample", "/models/gpt-shakespeare/generate", "/models/fraud/score",
             "/models/fraud/log_prob", "/models/made-digits/score", "/models/nope/sample",
             "/models/%00/sample"]  # fmt: skip
    values = [None, -1, 0, 10**12, 1.5, float("inf"), "x", "", [], {}, [1, "a"], {"a": 1}, True, "\u0000" * 3, 2**70]
    fields = ["n", "seed", "format", "labels", "temperature", "top_k", "top_p", "truncation", "rows", "prompt",
              "max_new_tokens", "stop", "stream", "max_length", "zzz"]  # fmt: skip
    counts: dict[str, int] = {}
    with httpx.Client(base_url=url, timeout=60) as http:
        for _ in range(requests):
            path, kind = rng.choice(paths), rng.randrange(5)
            if kind == 0:
                body = {rng.choice(fields): rng.choice(values) for _ in range(rng.randrange(1, 4))}
                content = json.dumps(body, allow_nan=True).encode()
                response = http.post(path, content=content, headers={"content-type": "application/json"})
            elif kind == 1:
                content_type = rng.choice(["application/json", "text/plain"])
                response = http.post(path, content=rng.randbytes(rng.randrange(1, 400)),
                                     headers={"content-type": content_type})  # fmt: skip
            elif kind == 2:
                name = rng.choice(["a.csv", "b.npy", "c.png", "d.smi", "e.parquet", "f"])
                response = http.post(path, files={"file": (name, rng.randbytes(rng.randrange(0, 2000)))})
            elif kind == 3:
                rows = [{rng.choice(["amount", "hour", "channel", "x"]): rng.choice(values)} for _ in range(3)]
                response = http.post(path, content=json.dumps({"rows": rows}, allow_nan=True).encode(),
                                     headers={"content-type": "application/json"})  # fmt: skip
            else:
                response = http.request(rng.choice(["GET", "PUT", "DELETE"]), path)
            counts[str(response.status_code)] = counts.get(str(response.status_code), 0) + 1
    return {"requests": requests, "status_counts": dict(sorted(counts.items())),
            "server_errors": sum(count for code, count in counts.items() if code.startswith("5"))}  # fmt: skip


def streaming(url: str, run_dir: Path, tokens: int, rounds: int) -> dict[str, object]:
    """Time to first token and tokens/s over server-sent events, in-process, and the CLI's wall time."""
    import genmodels

    model = genmodels.load(run_dir)
    request = {"prompt": "ROMEO:", "max_new_tokens": tokens, "temperature": 0.8}
    served, local = [], []
    for round_number in range(rounds):
        started, first = time.perf_counter(), None
        with httpx.stream("POST", f"{url}/models/gpt-shakespeare/generate", json={**request, "seed": round_number},
                          timeout=120) as response:  # fmt: skip
            for line in response.iter_lines():
                if line.startswith("event: token") and first is None:
                    first = time.perf_counter() - started
                if line.startswith("data:") and '"new_text"' in line:
                    new_text = json.loads(line[5:])["new_text"]
        total = time.perf_counter() - started
        count = len(model.tokenizer.encode(new_text))
        served.append({"first_token_s": first, "tokens": count, "tokens_per_s": count / (total - first)})
        marks: list[float] = []
        started = time.perf_counter()
        text = model.generate_batch("ROMEO:", tokens, temperature=0.8, seed=round_number,  # as genmodels generate
                                    on_text=lambda _, marks=marks: marks.append(time.perf_counter()))[0]  # fmt: skip
        total = time.perf_counter() - started
        count = len(model.tokenizer.encode(text[len("ROMEO:") :]))
        local.append(
            {
                "first_token_s": marks[0] - started,
                "tokens": count,
                "tokens_per_s": count / (total - (marks[0] - started)),
            }
        )
    started = time.perf_counter()
    run([*GENMODELS, "generate", str(run_dir), "--prompt", "ROMEO:", "--max-new-tokens", str(tokens), "--seed", "0"])
    cli_seconds = time.perf_counter() - started

    def median(rows: list[dict], key: str) -> float:
        return float(np.median([row[key] for row in rows]))

    return {
        "max_new_tokens": tokens,
        "rounds": rounds,
        "server_sse": {
            "first_token_s": median(served, "first_token_s"),
            "tokens_per_s": median(served, "tokens_per_s"),
        },
        "in_process_generate": {
            "first_token_s": median(local, "first_token_s"),
            "tokens_per_s": median(local, "tokens_per_s"),
        },
        "cli_generate_wall_s": cli_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/serving.json"))
    parser.add_argument("--steps", type=int, default=200, help="Training steps of each tiny run.")
    parser.add_argument("--fuzz-requests", type=int, default=600)
    arguments = parser.parse_args()

    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as directory:
        runs = train_runs(Path(directory), arguments.steps)
        csv_bytes = transactions(200, seed=1).to_csv(index=False).encode()
        for batching in (True, False):
            mode = "batched" if batching else "one pass per request"
            with server(runs, batching) as url:
                for name, make_request in scenarios(csv_bytes).items():
                    for clients in CONCURRENCY:
                        row = asyncio.run(load_test(url, make_request, clients))
                        results.setdefault(name, {}).setdefault(mode, []).append(row)
                        print(f"{name} | {mode} | {clients} clients: {row['requests_per_s']:.1f} req/s, "
                              f"p99 {row['p99_s']:.3f} s, errors {row['errors']}", flush=True)  # fmt: skip
                if batching:
                    fuzzed = fuzz(url, arguments.fuzz_requests)
                    print(f"fuzz: {fuzzed}", flush=True)
                    streamed = streaming(url, runs["shakespeare"], 256, 5)
                    print(f"streaming: {streamed}", flush=True)
    ratios = {}
    for name, modes in results.items():
        batched = {row["clients"]: row for row in modes["batched"]}
        alone = {row["clients"]: row for row in modes["one pass per request"]}
        ratios[name] = {str(c): batched[c]["requests_per_s"] / alone[c]["requests_per_s"] for c in CONCURRENCY}
    load = os.getloadavg()
    record = {
        "load_test": results,
        "throughput_ratio_batched_over_one_pass": ratios,
        "fuzz": fuzzed,
        "streaming": streamed,
        "settings": {
            "requests_per_client": REQUESTS_PER_CLIENT,
            "training_steps": arguments.steps,
            "batch_window_ms": 5.0,
            "max_batch": 512,
        },  # fmt: skip
        "machine": {
            "platform": platform.platform(),
            "cpus": len(os.sched_getaffinity(0)),
            "load_average_1_5_15_min_at_end": load,
        },  # fmt: skip
        "versions": software_versions(),
        "command": "python benchmarks/serving.py",
    }
    print(json.dumps(ratios, indent=2))
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
