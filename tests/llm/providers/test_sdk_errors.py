import time
from email.utils import formatdate

from llmgine.llm.providers.sdk_errors import retry_after_seconds


def test_retry_after_forms() -> None:
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({}) is None
    assert retry_after_seconds(None) is None
    assert retry_after_seconds({"retry-after": "soon"}) is None
    later = formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (retry_after_seconds({"retry-after": later}) or 0) <= 31
