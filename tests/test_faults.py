"""Faults: a job process killed mid-call, the database unreachable at start.

The LLM double failing mid-call (the call ends `failed` with the provider's
error as its reason, and what was said before is kept) is
tests/test_spec_agent.py::test_provider_failure_marks_call_failed_with_reason.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import select as sql_select

from tests.doubles.openai_server import OpenAIServerDouble, Reply
from voxie_app.db import session_scope
from voxie_app.models import CallSession, ConversationTurn
from voxie_app.services import agent_creation
from voxie_app.services.reconciler import ABANDONED, reconcile
from voxie_app.settings import ROOT_DIR, Settings

SPEC = {
    "name": "Bike Shop",
    "instructions": "You answer calls for the bike shop.",
    "greeting": "Hello, bike shop!",
}

# The job: the stored agent in a recorded text session (what a worker job runs),
# two caller messages, then "ready" once the recorder has written them, then it
# waits to be killed.
JOB = textwrap.dedent(
    """
    import asyncio, sys, time, uuid

    from voxie_app.settings import Settings, get_settings

    Settings.model_config["env_file"] = None  # only the environment the test gives

    from sqlmodel import func, select

    from voice_worker.text_chat import TextChat
    from voxie_app.db import session_scope
    from voxie_app.models import ConversationTurn


    def turns(call_id):
        with session_scope() as s:
            return s.exec(
                select(func.count())
                .select_from(ConversationTurn)
                .where(ConversationTurn.call_session_id == call_id)
            ).one()


    async def main(agent_id, call_id):
        chat = await TextChat.open(
            agent_id=agent_id, settings=get_settings(), call_session_id=call_id
        )
        await chat.send("Are you open on Saturday?")
        await chat.send("Can I bring my bike in for a tune-up?")
        deadline = time.monotonic() + 20
        while turns(call_id) < 5 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        print("ready", flush=True)
        await asyncio.sleep(3600)


    asyncio.run(main(uuid.UUID(sys.argv[1]), uuid.UUID(sys.argv[2])))
    """
)
READY_TIMEOUT_S = 60


def _job_env(db_url: str, openai_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LIVEKIT_"))}
    env.update(
        DATABASE_URL=db_url,
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=openai_url,
        VOXIE_PROVIDER_RETRIES="1",
        VOXIE_PROVIDER_RETRY_INTERVAL="0.01",
        PYTHONUNBUFFERED="1",
    )
    return env


def _wait_for_ready(proc: subprocess.Popen, log: Path) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the job exited ({proc.returncode}) before 'ready':\n{log.read_text()}")
        readable, _, _ = select.select([proc.stdout], [], [], 0.2)
        if readable and proc.stdout.readline().strip() == "ready":
            return
    proc.kill()
    pytest.fail(f"the job did not get ready in {READY_TIMEOUT_S}s:\n{log.read_text()[-4000:]}")


def _turns(call_id: uuid.UUID) -> list[tuple[str, str]]:
    with session_scope() as s:
        rows = s.exec(
            sql_select(ConversationTurn)
            .where(ConversationTurn.call_session_id == call_id)
            .order_by(ConversationTurn.turn_number)
        ).all()
        return [(r.speaker, r.transcript) for r in rows]


def _call(call_id: uuid.UUID) -> CallSession:
    with session_scope() as s:
        call = s.get(CallSession, call_id)
        assert call is not None
        return call


def test_a_job_killed_mid_call_keeps_its_transcript_and_is_reconciled(
    db: str, openai_double: OpenAIServerDouble, tmp_path: Path
) -> None:
    agent_id = agent_creation.submit(user_requirements={}, processed_spec=SPEC).id
    with session_scope() as s:
        call = CallSession(session_id=uuid.uuid4().hex, agent_id=agent_id, room_name="room-kill")
        s.add(call)
    openai_double.script(
        Reply(content="Yes, we open at nine on Saturdays."),
        Reply(content="Of course, bring it in any time."),
    )
    log = tmp_path / "job.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", JOB, str(agent_id), str(call.id)],
            cwd=ROOT_DIR,
            env=_job_env(db, openai_double.base_url),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            start_new_session=True,
        )
    try:
        _wait_for_ready(proc, log)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

    # Everything said before the kill is in the database; nobody ended the call.
    assert _turns(call.id) == [
        ("agent", "Hello, bike shop!"),
        ("user", "Are you open on Saturday?"),
        ("agent", "Yes, we open at nine on Saturdays."),
        ("user", "Can I bring my bike in for a tune-up?"),
        ("agent", "Of course, bring it in any time."),
    ]
    killed = _call(call.id)
    assert killed.call_status == "active" and killed.ended_at is None
    assert killed.last_activity_at is not None

    # Recently active: the reconciler's normal window leaves it alone.
    with session_scope() as s:
        assert reconcile(session=s, idle_seconds=300) == []
    assert _call(call.id).call_status == "active"

    # Idle past the window: marked failed, reason `abandoned`, transcript untouched.
    with session_scope() as s:
        assert reconcile(session=s, idle_seconds=0) == [str(call.id)]
    failed = _call(call.id)
    assert failed.call_status == "failed"
    assert failed.end_reason == ABANDONED
    assert failed.ended_at is not None
    assert len(_turns(call.id)) == 5
    with session_scope() as s:  # once only
        assert reconcile(session=s, idle_seconds=0) == []


# ------------------------------------------------------------- database down


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_migrate_with_the_database_down_prints_one_clear_line(
    scheme: str, configure: Callable[..., Settings]
) -> None:
    port = _closed_port()
    url = f"{scheme}://voxie:s3cr3t-pw@127.0.0.1:{port}/voxie"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "VOXIE_"))}
    env["DATABASE_URL"] = url
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "voxie_app.manage", "migrate"],
        cwd=ROOT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 1, output
    lines = output.splitlines()
    assert len(lines) == 1, output
    line = lines[0]
    assert f"127.0.0.1:{port}" in line
    assert "check DATABASE_URL" in line
    assert "Traceback" not in output
    assert "s3cr3t-pw" not in output  # the password is never printed
    assert time.monotonic() - started < 30
