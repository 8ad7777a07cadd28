"""The README's "The math" section runs as written and prints what it shows."""

import doctest
import pathlib

import numpy as np

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_the_math_section_runs_as_written():
    text = README.read_text()
    section = text[text.index("## The math"):]
    section = section[: section.index("\n## ", 1)]
    blocks = [block.split("```")[0] for block in section.split("```python")[1:]]
    parser = doctest.DocTestParser()
    test = parser.get_doctest("\n".join(blocks), {"np": np}, "README: The math", str(README), 0)
    assert len(test.examples) > 20
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
