"""Knowledge base: ingestion throughput and local search latency with 1,000 documents.

    .venv/bin/python -m bench.knowledge_bench                 # PostgreSQL and SQLite
    .venv/bin/python -m bench.knowledge_bench --db postgresql

What it does, per database (a fresh migrated one, dropped after):

1. Generates a deterministic corpus of `--docs` documents (default 1,000, about
   5 KB of text each, about 5 MB in all): paragraphs of sentences over a
   Zipf-distributed vocabulary (exponent 1.05) whose ~110 top ranks are English
   function words and the other ~5,900 made-up content words, so there are very
   common and very rare terms as in real documents; a third of the documents
   are Markdown with headings, the rest plain text.
2. Ingests them into one agent, one after another, through the same service
   calls as an upload (`check_text` -> `add_document` -> `ingest`: extract,
   chunk, store chunks, index, publish status events), and reports documents/s,
   MB/s and chunks/s. A second agent gets 100 more documents, so every search
   also has to filter other agents' passages out.
3. Times `--queries` searches (default 400, after 30 warm-up ones) through
   `KnowledgeRetriever.search_sync`, exactly what the `search_knowledge_base`
   tool runs during a call (a session, the agent's backends, the ranked
   full-text query for the top 3). Queries are 3 to 6 words taken from a random
   sentence of a random document, wrapped in question words ("what is the ...");
   the share whose source document comes back in the top 3 is reported too.

Target: local search p95 <= 20 ms on PostgreSQL (SQLite is reported alongside).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench._harness import configure, database, summary_ms, write_results

TARGET_P95_MS = {"postgresql": 20.0}
WARMUP = 30
OTHER_AGENT_DOCS = 100
QUESTION_FRAMES = (
    "what is the {}",
    "can you tell me about {}",
    "do you have {}",
    "how does {} work",
    "{}",
    "I need to know about {} please",
)


def _word(rng: random.Random) -> str:
    syllables = ["ka", "lo", "mi", "ner", "sa", "tu", "vel", "ro", "din", "pa", "qui", "zen"]
    return "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))


# The head of the distribution is English's own: function words fill the top
# ranks of any real text (and are dropped from queries, as in real questions).
_FUNCTION_WORDS = """the of and to a in is it you that he was for on are with as his they be at
one have this from or had by but what some we can out other were all there when up use your
how said an each she which do their if will way about many then them would so these her see
him has more could go come did my no most who over did than first been its now made our into
may only very after where just also any before through much should well"""
FUNCTION_WORDS = _FUNCTION_WORDS.split()


class Corpus:
    """Deterministic made-up documents over a Zipf-distributed vocabulary whose top
    ranks are English function words and the rest made-up content words."""

    def __init__(self, seed: int, vocabulary: int = 6000) -> None:
        self.rng = random.Random(seed)
        words: list[str] = list(dict.fromkeys(FUNCTION_WORDS))
        seen: set[str] = set(words)
        while len(words) < vocabulary:
            w = _word(self.rng)
            if w not in seen:
                seen.add(w)
                words.append(w)
        self.words = words
        weights = [1 / (rank + 1) ** 1.05 for rank in range(vocabulary)]
        total = sum(weights)
        acc, self.cumulative = 0.0, []
        for w in weights:
            acc += w / total
            self.cumulative.append(acc)

    def _pick(self, k: int) -> list[str]:
        import bisect

        return [
            self.words[min(bisect.bisect(self.cumulative, self.rng.random()), len(self.words) - 1)]
            for _ in range(k)
        ]

    def sentence(self) -> str:
        return " ".join(self._pick(self.rng.randint(8, 20))).capitalize() + "."

    def document(self, index: int, target_chars: int) -> tuple[str, str]:
        markdown = index % 3 == 0
        parts: list[str] = []
        size = 0
        while size < target_chars:
            paragraph = " ".join(self.sentence() for _ in range(self.rng.randint(3, 7)))
            if markdown and self.rng.random() < 0.3:
                paragraph = f"## {' '.join(self._pick(3)).capitalize()}\n\n{paragraph}"
            parts.append(paragraph)
            size += len(paragraph) + 2
        name = f"doc-{index:04d}.{'md' if markdown else 'txt'}"
        return name, "\n\n".join(parts)


def _ingest(agent_id: uuid.UUID, docs: list[tuple[str, str]]) -> dict[str, float | int]:
    from sqlalchemy import func, select

    from voxie_app.db import session_scope
    from voxie_app.models import KnowledgeChunk, KnowledgeDocument
    from voxie_app.services import knowledge

    start = time.perf_counter()
    for name, text in docs:
        upload = knowledge.check_text(name=name, text=text)
        with session_scope() as session:
            doc = knowledge.add_document(session=session, agent_id=agent_id, upload=upload)
        knowledge.ingest(document_id=doc.id, upload=upload)
    seconds = time.perf_counter() - start
    with session_scope() as session:
        chunks = session.execute(
            select(func.count())
            .select_from(KnowledgeChunk)
            .where(KnowledgeChunk.agent_id == agent_id)
        ).scalar_one()
        not_ready = session.execute(
            select(func.count())
            .select_from(KnowledgeDocument)
            .where(KnowledgeDocument.agent_id == agent_id, KnowledgeDocument.status != "ready")
        ).scalar_one()
    size = sum(len(text.encode()) for _, text in docs)
    return {
        "documents": len(docs),
        "bytes": size,
        "chunks": chunks,
        "not_ready": not_ready,
        "seconds": round(seconds, 3),
        "documents_per_s": round(len(docs) / seconds, 1),
        "mb_per_s": round(size / 1e6 / seconds, 3),
        "chunks_per_s": round(chunks / seconds, 1),
    }


def run_db(kind: str, args: argparse.Namespace, workdir: Path) -> dict:
    corpus = Corpus(args.seed)
    docs = [corpus.document(i, args.doc_chars) for i in range(args.docs)]
    others = [corpus.document(args.docs + i, args.doc_chars) for i in range(OTHER_AGENT_DOCS)]
    rng = random.Random(args.seed + 1)
    queries: list[tuple[str, str]] = []
    for _ in range(WARMUP + args.queries):
        name, text = docs[rng.randrange(len(docs))]
        sentences = [s for s in text.replace("\n", " ").split(". ") if len(s.split()) >= 8]
        words = rng.choice(sentences).replace("#", "").split()
        start = rng.randrange(0, len(words) - 6)
        phrase = " ".join(words[start : start + rng.randint(3, 6)]).lower()
        queries.append((name, rng.choice(QUESTION_FRAMES).format(phrase)))

    with database(kind, workdir) as url:
        configure(DATABASE_URL=url)
        from voxie_app.services import agent_creation, knowledge

        def agent(name: str) -> uuid.UUID:
            spec = {"name": name, "instructions": "Answer from the documents."}
            return agent_creation.submit(user_requirements={}, processed_spec=spec).id

        main, other = agent("Bench"), agent("Other")
        ingest = _ingest(main, docs)
        _ingest(other, others)
        if kind == "postgresql":
            from sqlalchemy import text

            from voxie_app.db import get_engine

            with get_engine(url).begin() as conn:
                conn.execute(text("ANALYZE"))

        retriever = knowledge.KnowledgeRetriever()
        latencies, hits, empty = [], 0, 0
        for i, (source, query) in enumerate(queries):
            t0 = time.perf_counter()
            found = retriever.search_sync(main, query)
            elapsed = time.perf_counter() - t0
            if i < WARMUP:
                continue
            latencies.append(elapsed)
            hits += any(p.document_name == source for p in found)
            empty += not found
    search = summary_ms(latencies)
    search["p99_ms"] = round(sorted(latencies)[int(0.99 * (len(latencies) - 1))] * 1000, 3)
    result = {
        "database": kind,
        "ingest": ingest,
        "search": search,
        "search_source_document_in_top_3": round(hits / len(latencies), 3),
        "search_with_no_result": empty,
    }
    if kind in TARGET_P95_MS:
        result["target"] = f"search p95 <= {TARGET_P95_MS[kind]:.0f} ms"
        result["pass"] = search["p95_ms"] <= TARGET_P95_MS[kind]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--doc-chars", type=int, default=5000, help="about this much text each")
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    kinds = ["postgresql", "sqlite"] if args.db == "both" else [args.db]
    results = []
    with tempfile.TemporaryDirectory(prefix="voxie-bench-") as tmp:
        for kind in kinds:
            results.append(run_db(kind, args, Path(tmp)))
    from voxie_app.services import chunking

    payload = {
        "measures": "ingest throughput; KnowledgeRetriever.search_sync latency (top 3)",
        "parameters": {
            "documents": args.docs,
            "chars_per_document": args.doc_chars,
            "other_agent_documents": OTHER_AGENT_DOCS,
            "queries": args.queries,
            "warm_up_queries": WARMUP,
            "seed": args.seed,
            "chunk_chars": chunking.CHUNK_CHARS,
            "chunk_overlap": chunking.CHUNK_OVERLAP,
            "backend": "local (no RAGIE_API_KEY)",
        },
        "results": results,
        "pass": all(r.get("pass", True) for r in results),
    }
    name = "knowledge" if args.db == "both" else f"knowledge_{args.db}"
    path = write_results(name, payload, module="knowledge_bench")
    for r in results:
        i, s = r["ingest"], r["search"]
        verdict = f" ({r['target']}: {'PASS' if r['pass'] else 'FAIL'})" if "target" in r else ""
        print(
            f"{r['database']}: ingested {i['documents']} docs ({i['bytes'] / 1e6:.1f} MB, "
            f"{i['chunks']} chunks) in {i['seconds']} s = {i['documents_per_s']} docs/s, "
            f"{i['mb_per_s']} MB/s | search p50 {s['p50_ms']} ms p95 {s['p95_ms']} ms "
            f"p99 {s['p99_ms']} ms{verdict} | source in top 3: "
            f"{r['search_source_document_in_top_3']:.0%}"
        )
    print(f"written {path}")
    return 0 if payload["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
