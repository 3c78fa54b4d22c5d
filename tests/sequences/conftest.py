"""Each shipped protocol is built once per test session and shared by the tests."""

import functools
import warnings

import pytest

from harmoniq.protocols import list_protocols, load_protocol
from harmoniq.sequences.export import build


@functools.lru_cache(maxsize=None)
def built(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build(load_protocol(name))


@pytest.fixture(params=list_protocols())
def shipped(request):
    """A built shipped protocol (BuiltSequence)."""
    return built(request.param)
