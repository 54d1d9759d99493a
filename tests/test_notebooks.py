"""The notebooks run top to bottom on the default model, in a kernel of this interpreter, show each plot once inline,
and are stored clean."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import install as install_kernelspec
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
KERNEL_NAME = "python3"
CELL_TIMEOUT = 300

RESULT_CHECKS = {
    "01_quickstart": """
assert len(scores.top(TOP)) == TOP
assert scores.R.shape == (loaded.architecture.n_layers, loaded.architecture.n_heads)
assert (scores.R >= 0).all()
""",
    "02_chaining_interventions": """
assert len(mass_after) == 3 * HEADS_PER_EDIT + 1
assert not torch.equal(plain_logits, edited_logits)
""",
    "03_contextual_vs_retrieval": """
assert r_grid.shape == retrieval_grid.shape == (loaded.architecture.n_layers, loaded.architecture.n_heads)
assert (retrieval_grid > 0).any()
""",
    "04_your_own_prompt": """
assert [record["id"] for record in sweep.records] == [sample["id"] for sample in samples] == [r["id"] for r in scores.records]
assert pattern.probabilities.shape == (1, len(samples[0]["prompt"]), len(samples[0]["prompt"]))
assert len(frame) == len(configurations) and (frame["n"] == len(samples)).all() and frame["em"].between(0, 1).all()
assert training.directions.query.shape == (loaded.architecture.n_layers, loaded.architecture.n_heads, loaded.architecture.head_dim)
""",
}
"""Per notebook: a cell appended at test time that checks what the notebook computed."""


@pytest.fixture(scope="module")
def kernel_of_this_interpreter(tmp_path_factory):
    """Kernel ``python3`` registered as this interpreter in a Jupyter path searched before any other."""
    prefix = tmp_path_factory.mktemp("jupyter")
    install_kernelspec(kernel_name=KERNEL_NAME, prefix=str(prefix))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
        assert KernelSpecManager().get_kernel_spec(KERNEL_NAME).argv[0] == sys.executable
        yield KERNEL_NAME


def test_every_notebook_has_a_result_check():
    assert sorted(path.stem for path in NOTEBOOKS.glob("*.ipynb")) == sorted(RESULT_CHECKS)


@pytest.mark.parametrize("name", sorted(RESULT_CHECKS))
def test_notebook_is_stored_without_outputs(name):
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(notebook)
    assert notebook.cells[0].cell_type == "markdown"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("name", sorted(RESULT_CHECKS))
def test_notebook_runs_top_to_bottom(name, kernel_of_this_interpreter, tmp_path):
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    interpreter_check = f"import sys\nassert sys.prefix == {sys.prefix!r}, sys.executable\n"
    notebook.cells.append(nbformat.v4.new_code_cell(interpreter_check + RESULT_CHECKS[name]))
    client = NotebookClient(
        notebook, timeout=CELL_TIMEOUT, kernel_name=kernel_of_this_interpreter, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, naming the cell and its traceback, when a cell fails
    for cell in notebook.cells:
        if cell.cell_type == "code" and ".plot(" in cell.source:
            assert _images(cell) == 1, f"{name}: this cell shows {_images(cell)} figures, not 1:\n{cell.source}"


def _images(cell) -> int:
    return sum("image/png" in output.get("data", {}) for output in cell.outputs)


FRESH_KERNEL = """
from focus_interp import load_model, score_heads, train_directions
from focus_interp.data import load_multidoc_qa

loaded = load_model()
samples = load_multidoc_qa("synthetic", n=4, n_documents=3, gold_positions=(1, 3))
scores = score_heads(loaded, samples, max_new_tokens=4, progress=False)
train_directions(loaded, samples, "directions", epochs=1, max_new_tokens=4, progress=False)
scores.plot("R")
"""


def test_scores_in_memory_plot_inline_after_training_in_the_same_kernel(kernel_of_this_interpreter, tmp_path):
    """In a fresh kernel: four generated samples scored with no folder, directions trained, then the heatmap shows."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(FRESH_KERNEL)])
    NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name=kernel_of_this_interpreter,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert _images(notebook.cells[0]) == 1
    assert (tmp_path / "directions" / "directions.safetensors").is_file()
