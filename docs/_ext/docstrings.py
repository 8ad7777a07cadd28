"""A griffe extension for the API reference: dnn's numpydoc docstrings, written for Sphinx, shown as they mean.

Nothing in dnn/ changes; only what the site shows.

- Sphinx roles (:func:`dnn.checks.check_setting`, :class:`~dnn.DNN`) become inline code (the last component only
  after ``~``, as Sphinx shows it): Markdown has no roles, and would show ":func:" before the code. A paragraph
  ending in ``::`` ends in one colon (the indented block after it is already a code block in Markdown).
- A parameter's default is the one in the signature. griffe's numpy parser gives every name of a grouped entry
  (``beta1, beta2 : float``) the first name's default, and a ``{choices}`` type its first choice as the default
  (numpydoc's convention, which ``verbose : {0, 1, 2}`` with default 1 does not follow).
- A type is shown as written: the parser keeps only what is inside the braces of a ``{choices}`` type, so
  ``{"sgd", "adam", "rmsprop"} or a dnn.optimizers.Optimizer`` lost its "or ...", and rewrites a type that reads as
  Python (``float in [0, 1e3]`` became ``float in [0, 1000.0]``).
"""

import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|meth|class|mod|attr|data|exc|obj|const):`(~?)([^`]+)`")
LITERAL_BLOCK = re.compile(r"(?m)(?<=\S)::$")
# A numpydoc Parameters section: from its underlined title to the next underlined title.
PARAMETERS = re.compile(r"(?ms)^[ \t]*Parameters\n[ \t]*-{3,}\n(.*?)(?=^[ \t]*\w[\w ]*\n[ \t]*-{3,}\n|\Z)")


def _role_as_code(match):
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def as_markdown(text):
    return LITERAL_BLOCK.sub(":", ROLE.sub(_role_as_code, text))


class SignatureDocstring(griffe.Docstring):
    """A docstring whose parameters take their defaults from the signature, and their types as written."""

    @property
    def parsed(self):
        key = (str(self.parser), repr(sorted((self.parser_options or {}).items())))
        if self.__dict__.get("_parsed_key") != key:  # parsed once per parser and options, as griffe caches it
            self._parsed_sections, self._parsed_key = self._parse_with_signature(), key
        return self._parsed_sections

    def _parse_with_signature(self):
        sections = self.parse()
        signature = getattr(self.parent, "parameters", None)
        for section in sections:
            if section.kind is not griffe.DocstringSectionKind.parameters:
                continue
            for parameter in section.value:
                if signature is not None and parameter.name in signature:
                    parameter.value = signature[parameter.name].default
                written = self._written_type(parameter.name)
                if written is not None:
                    parameter.annotation = written.removesuffix(", optional")
        return sections

    def _written_type(self, name):
        """The type written after ``name :`` in the Parameters section, or None."""
        section = PARAMETERS.search(self.value)
        names = rf"(?:[\w*]+,\s)*{re.escape(name)}(?:,\s[\w*]+)*"
        match = section and re.search(rf"(?m)^\s*{names} : (.+)$", section.group(1))
        return match.group(1).strip() if match else None


class DnnDocstrings(griffe.Extension):
    def on_object(self, *, obj, loader, **kwargs):
        if obj.is_alias or obj.docstring is None or isinstance(obj.docstring, SignatureDocstring):
            return
        docstring = obj.docstring
        obj.docstring = SignatureDocstring(as_markdown(docstring.value), lineno=docstring.lineno,
                                           endlineno=docstring.endlineno, parent=obj, parser=docstring.parser,
                                           parser_options=docstring.parser_options)
