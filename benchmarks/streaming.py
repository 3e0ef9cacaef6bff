"""Streaming data and bulk inference: peak memory and speed as the data grows, and resume equivalence.

1. Training an MLP VAE on generated 64x64 RGB image folders of growing size, streamed (DataLoader
   workers decode PNGs per batch): peak memory (PSS of the process and its workers, sampled every
   0.2 s) and training images/s. Folders are generated in a temporary directory and deleted after.
2. The in-memory path against streaming on mnist5k-sized data (5,000 28x28 images): from PNGs,
   from packed Arrow shards (``genmodels data pack``) and from a memory-mapped ``.npy``.
3. A tabular MADE trained on a generated 1-million-row table (tables load in memory).
4. Scoring generated table rows with a tabular MADE detector in chunks (``score_in_chunks``):
   rows/s and peak memory for two sizes, and the same rows through Ray Data with 2 local workers
   against one process.
5. A streaming run killed (SIGKILL) mid-epoch and resumed, against the uninterrupted run: the
   largest absolute weight difference.

Each measurement runs in its own process so its peak memory is its own. The machine's load
average is recorded before and after each part: on a shared machine it explains the spread.

    python benchmarks/streaming.py --output benchmarks/results/streaming.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
from serving import transactions  # the same generated transactions table as the serving benchmark

from genmodels.io.versions import software_versions

HERE = Path(__file__).resolve()


# --- measuring ------------------------------------------------------------------------------------------
def tree_pss_bytes(pid: int) -> int:
    """Proportional set size of a process and all its descendants: shared pages are counted once in total."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def measured(arguments: list[str]) -> dict:
    """Run this script with ``arguments`` in a child process; its JSON result plus the peak PSS of its tree."""
    process = subprocess.Popen([sys.executable, str(HERE), *arguments], stdout=subprocess.PIPE, text=True)
    peak, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.wait(0.2):
            peak[0] = max(peak[0], tree_pss_bytes(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate()
    stop.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{arguments} failed with exit code {process.returncode}")
    return {**json.loads(output.strip().splitlines()[-1]), "peak_pss_mb": round(peak[0] / 2**20, 1)}


def load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


# --- data -----------------------------------------------------------------------------------------------
def write_images(folder: Path, count: int, distinct: int, size: int = 64, seed: int = 0) -> None:
    """``count`` PNGs in 10 class folders: smooth colour gradients with a square; beyond ``distinct`` images the
    files are hard links to the first ones (same decoding work, a fraction of the generation time)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, size, dtype=np.float32)
    for label in range(10):
        (folder / f"class{label}").mkdir(parents=True, exist_ok=True)
    for index in range(count):
        path = folder / f"class{index % 10}" / f"{index:07d}.png"
        if index >= distinct:
            os.link(folder / f"class{index % distinct % 10}" / f"{index % distinct:07d}.png", path)
            continue
        image = np.add.outer(ramp * rng.random(), ramp * rng.random())[:, :, None] * rng.random(3) / 2
        top, left = rng.integers(0, size - 8, 2)
        image[top : top + 8, left : left + 8] = rng.integers(0, 256, 3)
        Image.fromarray(image.clip(0, 255).astype(np.uint8)).save(path, compress_level=1)


def write_table(path: Path, rows: int, seed: int = 1, chunk: int = 1_000_000) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    for start in range(0, rows, chunk):
        table = pa.Table.from_pandas(transactions(min(chunk, rows - start), seed + start), preserve_index=False)
        writer = writer or pq.ParquetWriter(str(path), table.schema)
        writer.write_table(table)
    writer.close()


def save_detector(directory: Path) -> Path:
    """A tabular MADE with its preprocessor, trained briefly on 20,000 rows, and a calibrated detector."""
    import torch

    from genmodels.applications.anomaly import Detector
    from genmodels.data.tabular import TabularPreprocessor
    from genmodels.models import TabularMADE, TabularMADEConfig
    from genmodels.training import Trainer, TrainerConfig

    table = transactions(20_000, seed=0)
    preprocessor = TabularPreprocessor.fit(table)
    torch.manual_seed(0)
    model = TabularMADE(
        TabularMADEConfig(data_shape=(preprocessor.width,), hidden_sizes=(64, 64), **preprocessor.model_settings())
    )
    model.preprocessor = preprocessor
    encoded = preprocessor.transform(table)
    config = TrainerConfig(max_steps=300, batch_size=256, accelerator="cpu", progress_bar=False, tensorboard=False)
    Trainer(config, directory / "training").fit(model, {"x": encoded})
    model.save_pretrained(directory)
    Detector(model, false_positive_rate=0.05).fit(encoded[:5000]).save(directory)
    return directory


# --- child processes: one measurement each ----------------------------------------------------------
def child_train_images(
    folder: str, streaming: str, steps: int, workers: int, out: str, channels: int, image_size: int
) -> dict:
    import torch

    from genmodels.data import DataSpec, load_data
    from genmodels.models import VAE, VAEConfig
    from genmodels.training import Trainer, TrainerConfig

    started = time.perf_counter()
    # channels and size given: nothing to learn from the headers, so the streamed start lists the files only
    data = load_data(DataSpec(name=folder, streaming=streaming, channels=channels, image_size=image_size))
    setup_seconds = time.perf_counter() - started
    torch.manual_seed(0)
    model = VAE(VAEConfig(data_shape=data.data_shape, hidden_dim=256, latent_dim=16, likelihood="gaussian"))
    config = TrainerConfig(max_steps=steps, batch_size=128, accelerator="cpu", data_workers=workers, monitor=None,
                           val_every=10**9, checkpoint_every=10**9, progress_bar=False, tensorboard=False)  # fmt: skip
    result = Trainer(config, out).fit(model, data.train.tensors())
    return {
        "images": sum(data.info["sizes"].values()),
        "streamed": bool(data.info.get("streaming")),
        "setup_seconds": round(setup_seconds, 2),
        "train_seconds": round(result.seconds, 2),
        "images_per_second": round(result.examples_per_second, 1),
        "data_wait_share": round(result.data_wait_share, 3),
    }


def child_train_table(table: str, steps: int, out: str) -> dict:
    from genmodels.data import DataSpec, load_data
    from genmodels.models import TabularMADE, TabularMADEConfig
    from genmodels.training import Trainer, TrainerConfig

    started = time.perf_counter()
    data = load_data(DataSpec(name=table))
    setup_seconds = time.perf_counter() - started
    model = TabularMADE(
        TabularMADEConfig(data_shape=data.data_shape, hidden_sizes=(64, 64), **data.preprocessor.model_settings())
    )
    config = TrainerConfig(max_steps=steps, batch_size=512, accelerator="cpu", monitor=None, val_every=10**9,
                           checkpoint_every=10**9, progress_bar=False, tensorboard=False)  # fmt: skip
    result = Trainer(config, out).fit(model, data.train.tensors())
    return {"rows": sum(data.info["sizes"].values()), "setup_seconds": round(setup_seconds, 2),
            "rows_per_second": round(result.examples_per_second, 1)}  # fmt: skip


def child_score(run: str, rows: str, output: str, chunk_rows: int) -> dict:
    import genmodels
    from genmodels.applications.anomaly import Detector
    from genmodels.applications.bulk import score_in_chunks

    detector = Detector.load(genmodels.load(run), run)
    started = time.perf_counter()
    count = score_in_chunks(detector, Path(rows), Path(output), chunk_rows)
    seconds = time.perf_counter() - started
    return {"rows": count, "seconds": round(seconds, 2), "rows_per_second": round(count / seconds, 1)}


def child_score_ray(run: str, rows: str, output: str, workers: int, batch_rows: int) -> dict:
    import ray

    from genmodels.applications.distributed import score_with_ray

    src = str(HERE.parents[1] / "src")
    ray.init(num_cpus=workers + 2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": src, "OMP_NUM_THREADS": "1"}})  # fmt: skip
    started = time.perf_counter()
    score_with_ray(run, rows, output, workers=workers, batch_rows=batch_rows)
    seconds = time.perf_counter() - started
    count = len(pd.read_parquet(output, columns=["score"]))
    ray.shutdown()
    return {"rows": count, "seconds": round(seconds, 2), "rows_per_second": round(count / seconds, 1)}


def child_resume_train(folder: str, out: str, steps: int, resume: bool) -> dict:
    import torch
    from safetensors.torch import save_file

    from genmodels.data import DataSpec, load_data
    from genmodels.models import VAE, VAEConfig
    from genmodels.training import Trainer, TrainerConfig

    data = load_data(DataSpec(name=folder, streaming="on", image_size=32))
    torch.manual_seed(0)
    model = VAE(VAEConfig(data_shape=data.data_shape, hidden_dim=128, latent_dim=8, likelihood="gaussian"))
    config = TrainerConfig(max_steps=steps, batch_size=64, accelerator="cpu", data_workers=2, checkpoint_every=5,
                           val_every=10, progress_bar=False, tensorboard=False)  # fmt: skip
    result = Trainer(config, out).fit(model, data.train.tensors(), data.validation.tensors(), resume=resume)
    save_file(model.state_dict(), str(Path(out) / "final.safetensors"))
    return {"steps": result.steps, "batches_per_epoch": len(data.train) // 64}


# --- parts of the benchmark -------------------------------------------------------------------------
def image_folders(root: Path, sizes: list[int], distinct: int, steps: int) -> list[dict]:
    results = []
    for size in sizes:
        folder = root / f"images64-{size}"
        started = time.perf_counter()
        write_images(folder, size, distinct)
        generated = time.perf_counter() - started
        before = load()
        arguments = ["--child", "train-images", str(folder), "on", str(steps), "2", str(root / "run64"), "3", "64"]
        result = measured(arguments)
        results.append({**result, "generate_seconds": round(generated, 1), "load_before": before, "load_after": load()})
        print(json.dumps(results[-1]), flush=True)
        shutil.rmtree(folder)
        shutil.rmtree(root / "run64", ignore_errors=True)
    return results


def in_memory_against_streaming(root: Path, steps: int) -> dict:
    """mnist5k's 5,000 images trained in memory, and streamed from PNGs, from packed shards and from a .npy."""
    from PIL import Image

    from genmodels.data import load_data
    from genmodels.data.packing import pack_dataset

    folder = root / "mnist5k-png"
    data = load_data("mnist5k")
    images = np.concatenate([split.images.numpy() for split in (data.train, data.validation, data.test)])
    pixels = (images[:, 0] * 255).round().astype(np.uint8)
    for label in range(10):
        (folder / str(label)).mkdir(parents=True)
    labels = np.concatenate([split.labels.numpy() for split in (data.train, data.validation, data.test)])
    for index, (image, label) in enumerate(zip(pixels, labels, strict=True)):
        Image.fromarray(image).save(folder / str(label) / f"{index:05d}.png")
    pack_dataset(str(folder), root / "mnist5k-packed")
    np.save(root / "mnist5k.npy", pixels)
    variants = {
        "in_memory": (folder, "off"),
        "streamed_png_folder": (folder, "on"),
        "streamed_packed": (root / "mnist5k-packed", "on"),
        "streamed_npy": (root / "mnist5k.npy", "on"),
    }
    results: dict = {}
    for name, (source, streaming) in variants.items():
        before = load()
        arguments = ["--child", "train-images", str(source), streaming, str(steps), "2", str(root / f"run-{name}"), "1",
                     "28"]  # fmt: skip
        results[name] = {**measured(arguments), "load_before": before, "load_after": load()}
        print(json.dumps(results[name]), flush=True)
    results["images_per_second_ratio_to_in_memory"] = {
        name: round(results[name]["images_per_second"] / results["in_memory"]["images_per_second"], 3)
        for name in variants
        if name != "in_memory"
    }
    shutil.rmtree(folder)
    return results


def table_training(root: Path, rows: int, steps: int) -> dict:
    path = root / "table.csv"
    transactions(rows, seed=2).to_csv(path, index=False)
    before = load()
    result = {**measured(["--child", "train-table", str(path), str(steps), str(root / "run-table")]),
              "load_before": before, "load_after": load()}  # fmt: skip
    path.unlink()
    print(json.dumps(result), flush=True)
    return result


def scoring(root: Path, sizes: list[int], ray_rows: int, chunk_rows: int) -> dict:
    run = save_detector(root / "detector")
    results: dict = {"chunk_rows": chunk_rows, "chunked": []}
    for rows in sizes:
        table = root / f"rows-{rows}.parquet"
        write_table(table, rows)
        before = load()
        arguments = ["--child", "score", str(run), str(table), str(root / f"scores-{rows}.parquet"), str(chunk_rows)]
        results["chunked"].append({**measured(arguments), "load_before": before, "load_after": load()})
        print(json.dumps(results["chunked"][-1]), flush=True)
        table.unlink()
        (root / f"scores-{rows}.parquet").unlink()
    table = root / f"rows-{ray_rows}.parquet"
    write_table(table, ray_rows)
    before = load()
    one = measured(["--child", "score", str(run), str(table), str(root / "one.parquet"), str(chunk_rows)])
    ray_result = measured(["--child", "score-ray", str(run), str(table), str(root / "ray-out"), "2", str(chunk_rows)])
    scored_by_one = pd.read_parquet(root / "one.parquet")
    scored_by_ray = pd.read_parquet(root / "ray-out")
    results["ray"] = {
        "rows": ray_rows,
        "one_process": one,
        "ray_2_workers": ray_result,
        "same_sorted_scores": bool(
            np.array_equal(np.sort(scored_by_one["score"].to_numpy()), np.sort(scored_by_ray["score"].to_numpy(float)))
        ),
        "load_before": before,
        "load_after": load(),
    }
    print(json.dumps(results["ray"]), flush=True)
    return results


def resume_equivalence(root: Path, steps: int) -> dict:
    """Kill a streaming run with SIGKILL after its first checkpoint past step 10, resume it, compare weights."""
    from safetensors.torch import load_file

    from genmodels.training.checkpoint import checkpoint_step

    folder = root / "resume-images"
    write_images(folder, 2000, 2000, size=32)
    child = ["--child", "resume-train", str(folder)]
    measured([*child, str(root / "whole"), str(steps), "fresh"])
    process = subprocess.Popen([sys.executable, str(HERE), *child, str(root / "killed"), str(steps), "fresh"],
                               stdout=subprocess.DEVNULL)  # fmt: skip
    checkpoint = root / "killed" / "checkpoints" / "last.safetensors"
    while process.poll() is None and (checkpoint_step(checkpoint) or 0) < 10:
        time.sleep(0.05)
    killed_at = checkpoint_step(checkpoint)
    process.send_signal(signal.SIGKILL)
    process.wait()
    resumed = measured([*child, str(root / "killed"), str(steps), "resume"])
    whole, again = (
        load_file(str(root / "whole" / "final.safetensors")),
        load_file(str(root / "killed" / "final.safetensors")),
    )
    difference = max(float((whole[name] - again[name]).abs().max()) for name in whole)
    shutil.rmtree(folder)
    return {
        "steps": steps,
        "killed_after_checkpoint_step": killed_at,
        "batches_per_epoch": resumed["batches_per_epoch"],
        "max_abs_weight_difference": difference,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/streaming.json"))
    parser.add_argument("--image-sizes", type=int, nargs="+", default=[10_000, 100_000, 300_000])
    parser.add_argument("--distinct-images", type=int, default=10_000)
    parser.add_argument("--image-steps", type=int, default=150)
    parser.add_argument("--table-rows", type=int, default=1_000_000)
    parser.add_argument("--score-rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--ray-rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=200_000)
    parser.add_argument("--parts", nargs="+", default=["images", "mnist5k", "table", "scoring", "resume"])
    parser.add_argument("--scratch", type=Path, default=None, help="Folder for the generated data (default: /tmp).")
    arguments = parser.parse_args()
    results = json.loads(arguments.output.read_text()) if arguments.output.is_file() else {}
    results.update({"versions": software_versions(), "cpu_count": os.cpu_count(), "load_at_start": load()})
    with tempfile.TemporaryDirectory(prefix="genmodels-streaming-", dir=arguments.scratch) as scratch:
        root = Path(scratch)
        parts = {
            "images": lambda: image_folders(
                root, arguments.image_sizes, arguments.distinct_images, arguments.image_steps
            ),  # fmt: skip
            "mnist5k": lambda: in_memory_against_streaming(root, arguments.image_steps),
            "table": lambda: table_training(root, arguments.table_rows, arguments.image_steps),
            "scoring": lambda: scoring(root, arguments.score_rows, arguments.ray_rows, arguments.chunk_rows),
            "resume": lambda: resume_equivalence(root, 30),
        }
        for name in arguments.parts:
            results[name] = parts[name]()
            results["load_at_end"] = load()
            arguments.output.parent.mkdir(parents=True, exist_ok=True)
            arguments.output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


CHILDREN = {
    "train-images": lambda folder, streaming, steps, workers, out, channels, size: child_train_images(
        folder, streaming, int(steps), int(workers), out, int(channels), int(size)
    ),
    "train-table": lambda table, steps, out: child_train_table(table, int(steps), out),
    "score": lambda run, rows, output, chunk_rows: child_score(run, rows, output, int(chunk_rows)),
    "score-ray": lambda run, rows, output, workers, batch_rows: child_score_ray(
        run, rows, output, int(workers), int(batch_rows)
    ),
    "resume-train": lambda folder, out, steps, mode: child_resume_train(folder, out, int(steps), mode == "resume"),
}

if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        print(json.dumps(CHILDREN[sys.argv[2]](*sys.argv[3:])), flush=True)
    else:
        main()
