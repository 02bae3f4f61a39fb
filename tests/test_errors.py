import llmgine
from llmgine import errors


def test_every_error_derives_from_llmgine_error() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.LLMgineError), name
    assert llmgine.LLMgineError is errors.LLMgineError


def test_seed_compatible_builtin_bases() -> None:
    assert issubclass(errors.HandlerRegistrationError, ValueError)
    assert issubclass(errors.SessionClosedError, RuntimeError)
    assert issubclass(errors.SerializationError, ValueError)
    assert issubclass(errors.NoCommandHandlerError, LookupError)


def test_the_tree_is_drawn_in_the_module_docstring() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        assert name in doc, f"{name} missing from the error tree"
