"""The runner of the docs' commands (benchmarks/docs_commands.py): what it extracts and how it shrinks budgets;
the slow test, which CI runs, runs README.md's commands (the whole set, every guide too, is the benchmark's)."""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "docs_commands.py"


@pytest.fixture(scope="module")
def runner():
    spec = importlib.util.spec_from_file_location("docs_commands", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["docs_commands"] = module
    spec.loader.exec_module(module)
    return module


def test_commands_are_read_from_bash_blocks_with_continuations_joined_and_comments_dropped(runner, tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "text\n\n```bash\ngenmodels train vae --data digits   # a comment\n"
        "genmodels ensemble create runs/a runs/b -o runs/ens \\\n    --strategy vote\npip install x\n```\n\n"
        "```python\ngenmodels.load('x')\n```\n"
    )
    assert runner.page_commands(page) == [
        "genmodels train vae --data digits",
        "genmodels ensemble create runs/a runs/b -o runs/ens --strategy vote",
    ]


def test_budgets_are_rewritten_small_and_unrunnable_commands_say_why(runner):
    assert runner.rewrite("genmodels train dcgan --data mnist5k --max-seconds 600") == (
        "genmodels train dcgan --data digits --max-steps 5 --batch-size 16 --val-every 5 --no-progress"
    )
    assert runner.rewrite("genmodels molecules generate runs/c -n 30000 -o gen.smi") == (
        "genmodels molecules generate runs/c -n 8 -o gen.smi"
    )
    assert runner.skip_reason("genmodels train gpt --data shakespeare --accelerator cuda") == "needs a GPU"
    assert runner.skip_reason("genmodels train vae --data digits") is None


def test_the_readme_and_getting_started_have_commands_to_run(runner):
    repository = SCRIPT.parents[1]
    for page in ("README.md", "docs/getting-started.md"):
        assert runner.page_commands(repository / page), page
    assert runner.skip_reason("genmodels serve runs/a --port 8000") is not None


@pytest.mark.slow
def test_every_command_of_the_readme_runs(runner, tmp_path):
    outcomes = runner.run_pages(["README.md"], tmp_path, timeout=600)
    failed = [f"{outcome.run}: {outcome.reason}" for outcome in outcomes if outcome.status == "failed"]
    assert not failed, "\n".join(failed)
    assert sum(outcome.status == "passed" for outcome in outcomes) >= 9
