"""The README and the documentation site say what the code does: every block of code on every page runs as written.

A page is the README or a Markdown file of docs/, with the files it includes (``--8<-- "path"``, as the site's
pymdownx.snippets does: the lessons, the shipped models, the benchmark results) put in place. Its ```python and
```pycon blocks run in order in one namespace, as a reader's session would, in a fresh folder holding a copy of
models/digits.pkl: a ```python block is executed (prompts stripped, output lines left out), a ```pycon block is a
doctest, which must print what it shows. Everything a page writes must land in runs/, which git ignores.

The site itself is built by CI (``mkdocs build --strict``); these tests need no MkDocs.
"""

import doctest
import importlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"

# The README starts with these two commands, byte for byte: the demo, then the tests.
FIRST_COMMANDS = [
    'python3 -m venv .venv && .venv/bin/pip install -e ".[digits]" && .venv/bin/python demo.py',
    'python3 -m venv .venv && .venv/bin/pip install -e ".[dev]" && .venv/bin/python -m pytest',
]

# What some pages write (each checked after its page runs), beside the rule that everything goes to runs/.
WRITTEN = {
    "README.md": ["runs/mine.pkl"],
    "docs/guide/data.md": ["runs/mnist_sample.csv"],
    "docs/guide/training-control.md": ["runs/best.pkl", "runs/log.csv", "runs/lr_find.png"],
    "docs/guide/seeing-training.md": ["runs/curve.png", "runs/history.png"],
    "docs/guide/model-files.md": ["runs/digits.pkl"],
    "docs/guide/other-tools.md": ["runs/iris.csv", "runs/iris.pkl"],
}

# The public modules the API reference must cover (one ::: directive each, or their objects).
REFERENCED = ["dnn.DNN", "dnn.errors", "dnn.activations", "dnn.losses", "dnn.backprop", "dnn.initializers",
              "dnn.optimizers", "dnn.schedules", "dnn.callbacks", "dnn.metrics", "dnn.datasets", "dnn.images",
              "dnn.sklearn", "dnn.threads", "dnn.devices"]

SNIPPET = re.compile(r'^--8<-- "([^"]+)"[ \t]*$', flags=re.M)
BLOCK = re.compile(r"^```(python|pycon)\n(.*?)^```", flags=re.S | re.M)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def page_paths():
    """The README and every Markdown file of docs/, as paths relative to the repository."""
    paths = ["README.md"] if README.exists() else []
    if DOCS.is_dir():
        paths += sorted(path.relative_to(ROOT).as_posix() for path in DOCS.rglob("*.md"))
    return paths


def included(spec):
    """What ``--8<-- "spec"`` puts in a page: a whole file, lines ``path:first:last``, or a section ``path:name``."""
    path, _, part = spec.partition(":")
    text = (ROOT / path).read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    if re.fullmatch(r"\d+:\d+", part):
        first, last = map(int, part.split(":"))
        lines = lines[first - 1:last]
    elif part:
        start = next(i for i, line in enumerate(lines) if f"--8<-- [start:{part}]" in line)
        end = next(i for i, line in enumerate(lines) if f"--8<-- [end:{part}]" in line)
        lines = lines[start + 1:end]
    return "".join(line for line in lines if "--8<-- [" not in line)


def page_text(relative):
    text = (ROOT / relative).read_text(encoding="utf-8")
    return SNIPPET.sub(lambda match: included(match.group(1)), text)


def code_blocks(text):
    """(kind, line number, body) of every ```python and ```pycon block, in order."""
    return [(match.group(1), text[: match.start()].count("\n") + 1, match.group(2))
            for match in BLOCK.finditer(text)]


def without_prompts(body):
    """A block as a script: the lines after >>> and ... prompts; output lines (no prompt) left out."""
    if not body.lstrip().startswith(">>>"):
        return body
    return "\n".join(line[4:] for line in body.splitlines() if line[:4] in (">>> ", "... ") or line in (">>>", "..."))


def pages_with_code():
    """The pages to run; one whose includes cannot be read is kept, so that its test says why."""
    pages = []
    for path in page_paths():
        try:
            if code_blocks(page_text(path)):
                pages.append(path)
        except (OSError, StopIteration):
            pages.append(path)
    return pages


def run_page(relative, namespace):
    import matplotlib.pyplot as plt

    for kind, line, body in code_blocks(page_text(relative)):
        where = f"{relative}, the block at line {line}"
        try:
            if kind == "pycon":
                test = doctest.DocTestParser().get_doctest(body, {}, where, relative, line)
                test.globs = namespace  # get_doctest copies the globals it is given; the page shares one namespace
                report = io.StringIO()
                runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
                runner.run(test, out=report.write, clear_globs=False)
                if runner.failures:
                    pytest.fail(f"{where} does not print what it shows:\n{report.getvalue()}")
            else:
                exec(compile(without_prompts(body), where, "exec"), namespace)
        except pytest.fail.Exception:
            raise
        except Exception as error:
            pytest.fail(f"{where} fails: {type(error).__name__}: {error}")
        finally:
            plt.close("all")


@pytest.mark.parametrize("relative", pages_with_code())
def test_page_runs_as_written(relative, tmp_path, monkeypatch):
    pytest.importorskip("sklearn")  # the pages' data are scikit-learn's digits and iris
    import matplotlib

    matplotlib.use("Agg")
    shipped = ROOT / "models" / "digits.pkl"
    if not shipped.exists():
        pytest.skip("the pages load models/digits.pkl, which is not beside the tests")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "digits.pkl").write_bytes(shipped.read_bytes())  # the pages run from the repository
    monkeypatch.chdir(tmp_path)
    run_page(relative, {"__name__": "page"})
    for path in WRITTEN.get(relative, []):
        assert (tmp_path / path).is_file(), f"{relative} should write {path}"
    # everything a page writes lands in runs/, which git ignores: a reader's checkout stays clean
    written = {path.relative_to(tmp_path).parts[0] for path in tmp_path.rglob("*") if path.is_file()}
    assert written <= {"runs", "models"}
    assert [path.name for path in (tmp_path / "models").iterdir()] == ["digits.pkl"]
    assert (tmp_path / "models" / "digits.pkl").read_bytes() == shipped.read_bytes()


def test_runs_is_ignored_by_git():
    assert "runs/" in (ROOT / ".gitignore").read_text().split()


def readme_lines():
    if not README.exists():
        pytest.skip("README.md is not beside the tests")
    return README.read_text(encoding="utf-8").splitlines()


def test_the_readme_starts_with_the_demo_and_the_test_commands():
    lines = readme_lines()
    assert lines[0] == "```bash"
    assert lines[1:3] == FIRST_COMMANDS


def test_the_readme_is_a_short_front_page_that_links_every_guide_page():
    lines = readme_lines()
    assert len(lines) <= 250
    if not DOCS.is_dir():
        pytest.skip("docs/ is not beside the tests")
    text = "\n".join(lines)
    for page in sorted((DOCS / "guide").glob("*.md")):
        assert f"](docs/guide/{page.name})" in text, f"the README does not link {page.name}"


def docs_only():
    if not DOCS.is_dir():
        pytest.skip("docs/ is not beside the tests")


def test_the_math_page_is_a_doctest():
    docs_only()
    blocks = code_blocks(page_text("docs/guide/math.md"))
    assert blocks and all(kind == "pycon" for kind, _, _ in blocks)
    examples = sum(len(doctest.DocTestParser().get_examples(body)) for _, _, body in blocks)
    assert examples > 20


def test_the_pages_show_the_calls_they_should():
    docs_only()
    code = "\n".join(without_prompts(body) for path in page_paths() for _, _, body in code_blocks(page_text(path)))
    for call in ("model.fit(", "load_mnist(", "drawConvergenceCurve(", "DNNClassifier(", "exportONNX(", "dropout=",
                 "image_to_row(", "saveModel(", "importModel(", "gradientCheck(", "toTorch(", "blas_threads("):
        assert call in code, f"no page shows {call}"


def test_relative_links_and_included_files_exist():
    docs_only()
    sources = [*page_paths(), "examples/README.md", "models/README.md", "benchmarks/RESULTS.md"]
    for relative in sources:
        text = (ROOT / relative).read_text(encoding="utf-8")
        for spec in SNIPPET.findall(text):
            assert included(spec).strip(), f"{relative} includes {spec}, which is empty or missing"
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = (ROOT / relative).parent / target.split("#")[0]
            assert path.exists(), f"{relative} links {target}, which does not exist"


def test_every_page_is_in_the_site_navigation():
    docs_only()
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = config[config.index("\nnav:"):]
    listed = set(re.findall(r"[\w/-]+\.md", nav))
    pages = {path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")}
    assert listed == pages


def test_the_reference_covers_the_public_modules():
    docs_only()
    targets = []
    for page in (DOCS / "reference").glob("*.md"):
        targets += re.findall(r"^::: ([\w.]+)", page.read_text(encoding="utf-8"), flags=re.M)
    assert set(REFERENCED) <= set(targets)
    for target in targets:  # every directive names something that imports
        assert resolved(target) is not None, f"the reference documents {target}, which does not import"
    import dnn

    errors = importlib.import_module("dnn.errors")
    for name in dnn.__all__:  # the public face: DNN, the error types (on the dnn.errors part of the page), __version__
        assert name == "__version__" or f"dnn.{name}" in targets or getattr(errors, name, None) is getattr(dnn, name)


def resolved(target):
    """The object a dotted name names: the longest module prefix that imports, then attributes."""
    if target == "dnn.sklearn" or target.startswith("dnn.sklearn."):
        pytest.importorskip("sklearn")
    parts = target.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for part in parts[cut:]:
            obj = getattr(obj, part, None)
        return obj
    return None


def test_the_layout_names_only_files_that_exist():
    docs_only()
    text = (DOCS / "reference" / "index.md").read_text(encoding="utf-8")
    layout = text[text.index("## How the package is laid out"):]
    layout = layout[layout.index("```\n") + 4:]
    layout = layout[: layout.index("```")]
    folder, named = None, set()
    for line in layout.splitlines():
        if line.startswith("dnn/"):
            first = line.split()[0].rstrip(",")
            folder = ROOT / first if first.endswith("/") else ROOT / "dnn"
            named.add(first.rstrip("/"))
        for name in re.findall(r"\b(\w+\.py)\b", line):
            assert (folder / name).is_file(), f"the layout names {name} in {folder.relative_to(ROOT)}, not there"
    for package in (ROOT / "dnn").iterdir():
        if (package / "__init__.py").is_file():
            assert f"dnn/{package.name}" in named, f"the layout does not show dnn/{package.name}/"
