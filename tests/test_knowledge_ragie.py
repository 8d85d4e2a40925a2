"""The knowledge base with `RAGIE_API_KEY` set: the real `ragie` client against a local
HTTP double of the Ragie endpoints (create document, status, retrieve, delete).

Every request must name the agent's own partition, never Ragie's default one.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import admin_headers
from tests.data.kb import corpus
from tests.doubles.ragie_server import RagieServerDouble
from voxie_app.api.app import create_api
from voxie_app.services import agent_creation, knowledge, ragie_store
from voxie_app.settings import Settings

SPEC = {"name": "Bike Shop", "instructions": "You answer calls for Alder & Finch Cycles."}


@pytest.fixture
def ragie(
    db: str, configure: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> Iterator[RagieServerDouble]:
    monkeypatch.setattr(ragie_store, "POLL_INTERVAL_S", 0.01)
    monkeypatch.setattr(ragie_store, "RETRY_BACKOFF_MS", (10, 20, 100))
    with RagieServerDouble() as server:
        configure(DATABASE_URL=db, RAGIE_API_KEY=server.api_key, RAGIE_BASE_URL=server.base_url)
        yield server


@pytest.fixture
def client(ragie: RagieServerDouble) -> Iterator[TestClient]:
    with TestClient(create_api(), headers=admin_headers()) as c:
        yield c


def make_agent(name: str = "Bike Shop") -> uuid.UUID:
    return agent_creation.submit(user_requirements={}, processed_spec={**SPEC, "name": name}).id


def upload(client: TestClient, agent_id: uuid.UUID, name: str) -> dict:
    r = client.post(
        f"/api/agents/{agent_id}/knowledge", files={"file": (name, corpus.file_bytes(name))}
    )
    assert r.status_code == 202, r.text
    return client.get(f"/api/agents/{agent_id}/knowledge/{r.json()['id']}").json()


def test_documents_go_to_the_agents_partition_and_wait_until_ready(
    client: TestClient, ragie: RagieServerDouble
) -> None:
    agent_id = make_agent()
    partition = ragie_store.partition_for(agent_id)
    assert partition == f"voxie-agent-{agent_id.hex}"

    pdf = upload(client, agent_id, "warranty-and-returns.pdf")
    md = upload(client, agent_id, "faq.md")
    r = client.post(
        f"/api/agents/{agent_id}/knowledge",
        json={"name": "contact.txt", "text": corpus.pasted_text(corpus.PASTED[0])},
    )
    assert r.status_code == 202
    for doc in (pdf, md, client.get(f"/api/agents/{agent_id}/knowledge/{r.json()['id']}").json()):
        assert (doc["status"], doc["backend"], doc["error"]) == ("ready", "ragie", None)
        assert doc["chunk_count"] >= 1  # chunks are stored locally too

    stored = {d.name: d for d in ragie.in_partition(partition)}
    assert set(stored) == {"warranty-and-returns.pdf", "faq.md", "contact.txt"}
    assert stored["faq.md"].metadata == {
        "voxie_agent_id": str(agent_id),
        "voxie_document_id": md["id"],
    }
    assert "lifetime warranty" in stored["warranty-and-returns.pdf"].text  # the file itself
    paths = [(r.method, r.path) for r in ragie.requests]
    assert ("POST", "/documents") in paths  # files: multipart upload
    assert ("POST", "/documents/raw") in paths  # pasted text
    polls = [r for r in ragie.requests if r.method == "GET"]
    assert len(polls) == 3 * len(ragie.statuses)  # polled through every status to `ready`
    assert ragie.partitions_used() == {partition}  # never the default partition
    assert all(r.headers["Authorization"] == f"Bearer {ragie.api_key}" for r in ragie.requests)


def test_retrieval_asks_the_agents_partition_only(
    client: TestClient, ragie: RagieServerDouble
) -> None:
    bikes, pizza = make_agent("Bike Shop"), make_agent("Pizza Roma")
    upload(client, bikes, "rentals-and-tours.txt")
    client.post(
        f"/api/agents/{pizza}/knowledge",
        json={"name": "menu.txt", "text": "The margherita costs 9 dollars.\n\nWe deliver."},
    )
    ragie.requests.clear()

    found = knowledge.KnowledgeRetriever().search_sync(bikes, "What deposit do you take?")
    assert found and found[0].document_name == "rentals-and-tours.txt"
    assert "refundable deposit of 200 dollars" in found[0].text
    (call,) = [r for r in ragie.requests if r.path == "/retrievals"]
    assert call.body["partition"] == ragie_store.partition_for(bikes)
    assert call.body["top_k"] == knowledge.SEARCH_LIMIT

    assert knowledge.KnowledgeRetriever().search_sync(bikes, "margherita") == []
    pizza_found = knowledge.KnowledgeRetriever().search_sync(pizza, "margherita deposit")
    assert [p.document_name for p in pizza_found] == ["menu.txt"]
    assert ragie.partitions_used() == {
        ragie_store.partition_for(bikes),
        ragie_store.partition_for(pizza),
    }


def test_delete_removes_the_document_from_its_partition(
    client: TestClient, ragie: RagieServerDouble
) -> None:
    agent_id = make_agent()
    doc = upload(client, agent_id, "faq.md")
    partition = ragie_store.partition_for(agent_id)
    assert len(ragie.in_partition(partition)) == 1
    assert client.delete(f"/api/agents/{agent_id}/knowledge/{doc['id']}").status_code == 204
    assert ragie.in_partition(partition) == []
    (delete,) = [r for r in ragie.requests if r.method == "DELETE"]
    assert delete.headers["partition"] == partition
    assert client.get(f"/api/agents/{agent_id}/knowledge").json() == []


def test_a_document_ragie_cannot_index_is_failed_with_the_reason(
    client: TestClient, ragie: RagieServerDouble
) -> None:
    agent_id = make_agent()
    ragie.fail_names.add("faq.md")
    doc = upload(client, agent_id, "faq.md")
    assert doc["status"] == "failed"
    assert "Ragie could not index the document" in doc["error"]
    assert "could not be partitioned" in doc["error"]
    assert ragie.in_partition(ragie_store.partition_for(agent_id)) == []  # cleaned up there


def test_ragie_refusing_the_upload_fails_the_document(
    client: TestClient, ragie: RagieServerDouble
) -> None:
    agent_id = make_agent()
    ragie.api_key = "another-key"  # Voxie's key is now wrong: 401
    doc = upload(client, agent_id, "faq.md")
    assert doc["status"] == "failed"
    assert "Ragie answered 401" in doc["error"] and "Invalid API key" in doc["error"]


def test_a_ragie_outage_during_a_call_falls_back_to_the_local_chunks(
    client: TestClient, ragie: RagieServerDouble
) -> None:
    agent_id = make_agent()
    upload(client, agent_id, "rentals-and-tours.txt")
    ragie.fail_retrievals = True
    found = knowledge.KnowledgeRetriever().search_sync(agent_id, "minimum age to rent")
    assert found and "at least 16 years old" in found[0].text


def test_a_failed_ragie_delete_keeps_the_document(
    client: TestClient, ragie: RagieServerDouble
) -> None:
    agent_id = make_agent()
    doc = upload(client, agent_id, "faq.md")
    ragie.api_key = "rotated"
    r = client.delete(f"/api/agents/{agent_id}/knowledge/{doc['id']}")
    assert r.status_code == 502 and "Ragie answered 401" in r.json()["detail"]
    assert client.get(f"/api/agents/{agent_id}/knowledge/{doc['id']}").status_code == 200


def test_deleting_the_agent_drops_its_ragie_partition(
    client: TestClient, ragie: RagieServerDouble
) -> None:
    keep, drop = make_agent("Keep"), make_agent("Drop")
    upload(client, keep, "faq.md")
    upload(client, drop, "faq.md")
    upload(client, drop, "warranty-and-returns.pdf")
    assert len(ragie.in_partition(ragie_store.partition_for(drop))) == 2

    assert client.delete(f"/api/agents/{drop}").status_code == 204
    assert client.get(f"/api/agents/{drop}").status_code == 404  # gone at once
    gone = ("DELETE", f"/partitions/{ragie_store.partition_for(drop)}")
    for _ in range(200):  # the partition is dropped after the response
        if gone in [(r.method, r.path) for r in ragie.requests]:
            break
        time.sleep(0.02)
    assert gone in [(r.method, r.path) for r in ragie.requests]
    assert ragie.in_partition(ragie_store.partition_for(drop)) == []
    assert len(ragie.in_partition(ragie_store.partition_for(keep))) == 1  # others untouched


def test_a_failing_ragie_does_not_undo_the_agents_deletion(
    ragie: RagieServerDouble, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    agent_id = make_agent()
    upload(client, agent_id, "faq.md")
    ragie.api_key = "rotated"  # every request now refused with 401
    thread = knowledge.delete_agent(agent_id=agent_id)
    assert thread is not None
    thread.join(10)
    assert client.get(f"/api/agents/{agent_id}").status_code == 404
    assert "Ragie partition" in caplog.text and "stays" in caplog.text
