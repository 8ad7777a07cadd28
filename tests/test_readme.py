"""The README runs as written: "The math" section as a doctest printing what it shows, and every python block, in
order, in one namespace (as a reader's session would)."""

import doctest
import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_text():
    if not README.exists():
        pytest.skip("README.md is not beside the tests")
    return README.read_text(encoding="utf-8")


def test_the_math_section_runs_as_written():
    text = readme_text()
    section = text[text.index("## The math"):]
    section = section[: section.index("\n## ", 1)]
    blocks = [block.split("```")[0] for block in section.split("```python")[1:]]
    parser = doctest.DocTestParser()
    test = parser.get_doctest("\n".join(blocks), {"np": np}, "README: The math", str(README), 0)
    assert len(test.examples) > 20
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


def python_blocks(text):
    """(line number, code) of every ```python block; prompts stripped, output lines (no prompt) left out."""
    blocks = []
    for match in re.finditer(r"^```python\n(.*?)^```", text, flags=re.S | re.M):
        body = match.group(1)
        if body.lstrip().startswith(">>>"):
            body = "\n".join(line[4:] for line in body.splitlines() if line[:4] in (">>> ", "... ")
                             or line in (">>>", "..."))
        blocks.append((text[: match.start()].count("\n") + 1, body))
    return blocks


def test_the_readme_has_the_blocks_it_should():
    code = "\n".join(body for _, body in python_blocks(readme_text()))
    for call in ("model.fit(", "load_mnist(", "drawConvergenceCurve(", "DNNClassifier(", "exportONNX(", "dropout="):
        assert call in code


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    text = readme_text()
    pytest.importorskip("sklearn")  # the README's data are scikit-learn's digits and iris
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shipped = README.parent / "models" / "digits.pkl"
    if not shipped.exists():
        pytest.skip("the README loads models/digits.pkl, which is not beside the tests")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "digits.pkl").write_bytes(shipped.read_bytes())  # the README runs from the repository
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme"}
    for line, body in python_blocks(text):
        try:
            exec(compile(body, f"README.md block at line {line}", "exec"), namespace)
        except Exception as error:
            pytest.fail(f"the README block at line {line} fails: {type(error).__name__}: {error}")
        finally:
            plt.close("all")
    runs = tmp_path / "runs"
    assert (runs / "mine.pkl").exists() and (runs / "curve.png").exists()
    assert (runs / "best.pkl").exists() and (runs / "log.csv").exists()
    # everything the README writes lands in runs/, which git ignores: a reader's checkout stays clean
    written = {path.relative_to(tmp_path).parts[0] for path in tmp_path.rglob("*") if path.is_file()}
    assert written <= {"runs", "models"}
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["digits.pkl"]
    ignored = (README.parent / ".gitignore").read_text().split()
    assert "runs/" in ignored
