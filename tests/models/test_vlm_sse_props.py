"""Property-based tests: generated garbage thrown at the server-sent-event parser of the
OpenAI-compatible client and at the pieces that read an event (JSON, content, usage).

Whatever a server sends, the parser yields JSON objects or ends with one ``VLMError`` of
one line; it never reads a line past its bound; well-formed streams come back intact."""
from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from models.vlm.openai_http import (_content_text, _delta_text, _json, _sse_events,
                                    _usage)
from models.vlm.types import AnswerStats, VLMError

URL = "http://127.0.0.1:9/v1"
SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)

# events shaped like the real thing, with any value where a field should be
events = st.fixed_dictionaries({}, optional={
    "choices": st.one_of(json_values, st.lists(st.fixed_dictionaries({}, optional={
        "delta": st.one_of(json_values, st.fixed_dictionaries({}, optional={
            "content": json_values, "role": json_values})),
        "message": json_values, "finish_reason": json_values}), max_size=2)),
    "usage": st.one_of(json_values, st.fixed_dictionaries({}, optional={
        "prompt_tokens": json_values, "completion_tokens": json_values})),
    "system_fingerprint": json_values})

lines = st.one_of(
    events.map(lambda e: b"data: " + json.dumps(e).encode()),
    json_values.map(lambda v: b"data:" + json.dumps(v).encode()),
    st.binary(max_size=200),
    st.sampled_from([b"", b":keep-alive", b"event: ping", b"data: [DONE]", b"data:",
                     b"data: {", b"retry: 10", b"data: \xff\xfe", b"data: " + b"[" * 5000]))
endings = st.sampled_from([b"\n", b"\r\n", b"\n\n", b"\r\n\r\n"])
streams = st.lists(st.tuples(lines, endings), max_size=20).map(
    lambda parts: b"".join(line + end for line, end in parts))


class _Reader(io.BytesIO):
    """A response body that records the largest ``readline`` bound it was asked for."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.limits: list[int] = []

    def readline(self, size=-1):
        self.limits.append(size)
        return super().readline(size)


def _consume(data: bytes, max_line: int = 4096):
    """Run the parser to its end: (events, texts, error message or None)."""
    reader = _Reader(data)
    got, texts = [], []
    try:
        for event in _sse_events(reader, URL, max_line=max_line):
            got.append(event)
            texts.append(_delta_text(event, URL))
    except VLMError as exc:
        return got, texts, str(exc), reader
    return got, texts, None, reader


@SETTINGS
@given(streams)
@example(b"data: " + b"[" * 100_000 + b"\n")                        # nesting bomb
@example(b'data: {"choices": [{"delta": {"content": 7}}]}\n')       # content of a wrong type
@example(b'data: {"choices": "abc"}\ndata: [DONE]\n')
def test_any_stream_gives_objects_or_one_clear_error(data):
    got, texts, error, reader = _consume(data)
    assert all(isinstance(e, dict) for e in got)
    assert all(isinstance(t, str) for t in texts)
    if error is not None:
        assert error and "\n" not in error and URL in error
    assert all(0 < n <= 4097 for n in reader.limits)             # every read had a bound


@SETTINGS
@given(st.binary(max_size=3000), st.integers(min_value=1, max_value=512))
def test_raw_bytes_never_escape_as_other_errors(data, max_line):
    got, _texts, error, reader = _consume(data, max_line)
    assert all(isinstance(e, dict) for e in got)
    assert all(n == max_line + 1 for n in reader.limits)
    longest = max((len(x) for x in data.split(b"\n")), default=0)
    if longest > max_line and error is None:
        # the stream ended (DONE) before the long line was reached
        assert b"[DONE]" in data


@SETTINGS
@given(st.integers(min_value=1, max_value=256), st.integers(min_value=1, max_value=2000))
def test_a_line_past_the_bound_is_refused(max_line, extra):
    data = b"data: " + b"x" * (max_line + extra) + b"\n"
    _got, _texts, error, _reader = _consume(data, max_line)
    assert error is not None and "event line longer than" in error


@SETTINGS
@given(st.lists(st.text(min_size=1, max_size=30), max_size=15), endings,
       st.sampled_from([b"data: ", b"data:", b"data:  "]), st.booleans())
def test_well_formed_streams_come_back_intact(texts, end, prefix, ascii_only):
    body = b"".join(prefix + json.dumps({"choices": [{"delta": {"content": t}}]},
                                        ensure_ascii=ascii_only).encode() + end
                    for t in texts) + b"data: [DONE]" + end
    got, parsed, error, _reader = _consume(body, max_line=1 << 16)
    assert error is None and parsed == texts and len(got) == len(texts)


@SETTINGS
@given(json_values)
def test_content_is_text_or_a_clear_error(value):
    try:
        text = _content_text(value, URL)
    except VLMError as exc:
        assert "not text" in str(exc)
    else:
        assert isinstance(text, str)


@SETTINGS
@given(st.binary(max_size=500) | json_values.map(lambda v: json.dumps(v).encode()))
def test_reply_json_is_an_object_or_a_clear_error(body):
    try:
        assert isinstance(_json(body, URL), dict)
    except VLMError as exc:
        assert "\n" not in str(exc)


@SETTINGS
@given(events)
def test_usage_of_any_shape_keeps_counts_numeric(event):
    stats = AnswerStats()
    _usage(event.get("usage"), stats)
    for value in (stats.prompt_tokens, stats.completion_tokens):
        assert value is None or (type(value) is int and value >= 0)
    stats.total_s, stats.ttft_s = 2.0, 1.0
    assert stats.tokens_per_s is None or stats.tokens_per_s >= 0


@pytest.mark.parametrize("value", [[{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                                   "ab"])
def test_content_parts_join(value):
    assert _content_text(value, URL) == "ab"
