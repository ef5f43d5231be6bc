"""jaxdl's refusals: the errors it raises for input it will not take.

Every check of the library raises one of these, before any compute, with a message that names
the argument, what was expected and what came in. They subclass ``ValueError`` and
``TypeError``, so ``except ValueError`` catches them too; the experiments' command line shows
them as one line (and a genuine bug, a plain ``ValueError`` from deeper down, as a traceback).
"""


class InputError(ValueError):
    """A value of the right kind that jaxdl refuses (out of range, inconsistent, damaged)."""


class InputTypeError(TypeError):
    """A value of the wrong kind."""


REFUSALS = (InputError, InputTypeError)
