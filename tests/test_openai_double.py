"""The OpenAI double speaks the protocol the real `openai` client expects.

Other tests trust this server to stand in for OpenAI, so these checks use the
real client (sync and async, streaming and not, structured outputs, errors).
"""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from pydantic import BaseModel

from tests.doubles.openai_server import OpenAIServerDouble, Reply, ToolCall


class Pet(BaseModel):
    name: str
    legs: int


def make_client(server: OpenAIServerDouble) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-double", base_url=server.base_url, max_retries=0)


def test_non_streaming_completion(openai_double: OpenAIServerDouble) -> None:
    openai_double.script(Reply(content="Hello there!", prompt_tokens=11, completion_tokens=3))
    completion = make_client(openai_double).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    choice = completion.choices[0]
    assert choice.message.content == "Hello there!"
    assert choice.message.role == "assistant"
    assert choice.finish_reason == "stop"
    assert completion.model == "gpt-4o-mini"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.total_tokens) == (11, 14)
    assert openai_double.requests == [
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    ]
    assert openai_double.headers[0]["Authorization"] == "Bearer sk-double"


def test_streaming_content_in_chunks_with_usage(openai_double: OpenAIServerDouble) -> None:
    text = "Thanks for calling Bright Smile Dental, how can I help?"
    openai_double.script(Reply(content=text, chunk_size=5))
    stream = make_client(openai_double).chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "hello"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert "".join(pieces) == text
    assert len(pieces) > 5
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and all(f is None for f in finishes[:-1])
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None and last.usage.total_tokens > 0
    assert openai_double.last_request["stream"] is True


def test_streaming_without_usage_option_sends_no_usage(openai_double: OpenAIServerDouble) -> None:
    openai_double.script(Reply(content="ok"))
    chunks = list(
        make_client(openai_double).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], stream=True
        )
    )
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)


def test_streaming_tool_calls_reassemble(openai_double: OpenAIServerDouble) -> None:
    args = {"reason": "caller said goodbye", "summary": "booked a cleaning on Tuesday"}
    openai_double.script(
        Reply(
            tool_calls=[ToolCall("end_call", args), ToolCall("record_caller_details", {"n": 1})],
            chunk_size=7,
        )
    )
    tools = [
        {
            "type": "function",
            "function": {"name": "end_call", "parameters": {"type": "object", "properties": {}}},
        }
    ]
    stream = make_client(openai_double).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "bye"}],
        tools=tools,
        stream=True,
    )
    calls: dict[int, dict[str, str]] = {}
    first_chunks: list[int] = []
    finish = None
    for chunk in stream:
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        for delta in choice.delta.tool_calls or []:
            if delta.id:
                first_chunks.append(delta.index)
                assert delta.type == "function"
                assert delta.function is not None and delta.function.name
                calls[delta.index] = {"id": delta.id, "name": delta.function.name, "args": ""}
            assert delta.function is not None
            calls[delta.index]["args"] += delta.function.arguments or ""
    assert finish == "tool_calls"
    assert first_chunks == [0, 1]
    assert calls[0]["name"] == "end_call"
    assert json.loads(calls[0]["args"]) == args
    assert calls[1]["name"] == "record_caller_details"
    assert json.loads(calls[1]["args"]) == {"n": 1}
    assert calls[0]["id"] != calls[1]["id"]
    assert openai_double.last_request["tools"] == tools


def test_non_streaming_tool_call(openai_double: OpenAIServerDouble) -> None:
    openai_double.script(Reply(tool_calls=[ToolCall("end_call", {"reason": "done"}, id="call_1")]))
    completion = make_client(openai_double).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "bye"}]
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    call = choice.message.tool_calls[0]  # type: ignore[index]
    assert call.id == "call_1"
    assert call.function.name == "end_call"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"reason": "done"}  # type: ignore[union-attr]


def test_structured_output_parse(openai_double: OpenAIServerDouble) -> None:
    openai_double.script(Reply(json={"name": "Rex", "legs": 4}))
    completion = make_client(openai_double).chat.completions.parse(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "a dog"}],
        response_format=Pet,
    )
    assert completion.choices[0].message.parsed == Pet(name="Rex", legs=4)
    sent = openai_double.last_request["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["name"] == "Pet"
    assert sent["json_schema"]["strict"] is True
    assert set(sent["json_schema"]["schema"]["properties"]) == {"name", "legs"}


async def test_async_client_parse_and_refusal(openai_double: OpenAIServerDouble) -> None:
    openai_double.script(Reply(json={"name": "Tom", "legs": 4}), Reply(refusal="I can't help"))
    client = openai.AsyncOpenAI(api_key="k", base_url=openai_double.base_url, max_retries=0)
    try:
        first = await client.chat.completions.parse(
            model="m", messages=[{"role": "user", "content": "cat"}], response_format=Pet
        )
        second = await client.chat.completions.parse(
            model="m", messages=[{"role": "user", "content": "cat"}], response_format=Pet
        )
    finally:
        await client.close()
    assert first.choices[0].message.parsed == Pet(name="Tom", legs=4)
    assert second.choices[0].message.refusal == "I can't help"
    assert second.choices[0].message.parsed is None


def test_error_reply_raises_internal_server_error(openai_double: OpenAIServerDouble) -> None:
    openai_double.script(Reply(status=500, error="boom"))
    with pytest.raises(openai.InternalServerError) as info:
        make_client(openai_double).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.status_code == 500
    assert "boom" in str(info.value)
    assert len(openai_double.requests) == 1


def test_client_retries_are_fast_and_recorded(openai_double: OpenAIServerDouble) -> None:
    openai_double.script(Reply(status=503, error="busy"), Reply(content="finally"))
    client = openai.OpenAI(api_key="k", base_url=openai_double.base_url, max_retries=2)
    completion = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.choices[0].message.content == "finally"
    assert len(openai_double.requests) == 2


def test_empty_script_fails_loudly(openai_double: OpenAIServerDouble) -> None:
    with pytest.raises(openai.InternalServerError, match="no scripted reply left"):
        make_client(openai_double).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )


def test_responder_answers_after_the_queue(openai_double: OpenAIServerDouble) -> None:
    openai_double.script(Reply(content="scripted"))
    openai_double.responder = lambda body: Reply(content=f"echo {body['messages'][-1]['content']}")
    client = make_client(openai_double)
    answers = [
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": word}])
        .choices[0]
        .message.content
        for word in ("one", "two", "three")
    ]
    assert answers == ["scripted", "echo two", "echo three"]


def test_models_and_unknown_routes(openai_double: OpenAIServerDouble) -> None:
    models = [m.id for m in make_client(openai_double).models.list()]
    assert "gpt-4o-mini" in models
    response = httpx.post(f"{openai_double.base_url}/embeddings", json={"input": "x"})
    assert response.status_code == 404
    assert "no route" in response.json()["error"]["message"]
    assert [r.path for r in openai_double.recorded] == ["/v1/models", "/v1/embeddings"]
    assert openai_double.recorded[1].body == {"input": "x"}
    assert openai_double.requests == []


def test_base_url_requires_a_running_server() -> None:
    server = OpenAIServerDouble()
    with pytest.raises(RuntimeError):
        _ = server.base_url
    with server:
        assert server.base_url.startswith("http://127.0.0.1:")
    with pytest.raises(RuntimeError):
        _ = server.base_url
