"""Links memories to the names they mention, in the background, for recall's graph expansion.

Each pass first brings namespaces whose graph changed up to date (every entity name or alias not
searched for yet is looked for in the namespace's earlier memories), then links a batch of the
backlog (memories written or edited since). Each step is one write transaction that reads the
names, the texts and the links it replaces together, so any number of processes may run passes on
one file and a crash at any point loses nothing: the backlog row and the scan mark go only with
the links they stand for. Extraction is regular-expression work of well under a millisecond a
memory, which is why it may run while the write lock is held.
"""

from __future__ import annotations

from athena_mcp.memory.entity_linking import NameMatcher, linked_names, name_words
from athena_mcp.store import graph, mentions
from athena_mcp.store.database import Database, Transaction

# Memories linked per transaction, and names searched for per transaction.
BATCH = 256
SCAN_NAMES = 50


class EntityLinker:
    def __init__(self, database: Database, batch_size: int = BATCH) -> None:
        self._database = database
        self._batch_size = batch_size
        # namespace -> (graph revision, matcher of its known names): rebuilt when the revision moves.
        self._matchers: dict[str, tuple[int, NameMatcher]] = {}

    async def run_until_caught_up(self) -> None:
        while await self.run_once():
            pass

    async def run_once(self) -> int:
        """One pass; returns how many memories were linked or names searched for (0: nothing to do)."""
        done = 0
        for namespace in await mentions.stale_namespaces(self._database):
            done += await self._scan_new_names(namespace)
        return done + await self._link_backlog()

    async def _scan_new_names(self, namespace: str) -> int:
        async with self._database.transaction() as tx:
            revision = await graph.revision(tx, namespace)
            known = await mentions.known_names(tx, namespace)
            scanned = await mentions.scanned_names(tx, namespace)
            # A name that stopped being known is forgotten here, so that if it comes back it is
            # searched for again (memories linked meanwhile did not look for it).
            new = sorted(known - scanned)
            batch = new[:SCAN_NAMES]
            for name in batch:
                words = name_words(name)
                if not words:
                    continue  # no letters or digits: never matched, nothing to look for
                matcher = NameMatcher([name])
                candidates = await mentions.texts_with_words(tx, namespace, words)
                found = [text.memory_id for text in candidates if matcher.find(text.content)]
                await mentions.add_mentions(tx, namespace, name, found)
            await mentions.set_scanned(tx, namespace, added=batch, dropped=scanned - known)
            if len(batch) == len(new):
                await mentions.set_scanned_revision(tx, namespace, revision)
        return len(batch) + len(scanned - known)

    async def _link_backlog(self) -> int:
        # A read first, so that an idle pass never takes the write lock other processes wait on.
        if not await mentions.backlog_size(self._database):
            return 0
        async with self._database.transaction() as tx:
            pending = await mentions.pending_texts(tx, self._batch_size)
            matchers = {
                namespace: await self._matcher(tx, namespace)
                for namespace in {text.namespace for text in pending}
            }
            linked = {
                text.memory_id: (text.namespace, linked_names(text.content, matchers[text.namespace]))
                for text in pending
            }
            await mentions.replace_mentions(tx, linked)
        return len(pending)

    async def _matcher(self, tx: Transaction, namespace: str) -> NameMatcher:
        revision = await graph.revision(tx, namespace)
        cached = self._matchers.get(namespace)
        if cached is None or cached[0] != revision:
            cached = (revision, NameMatcher(await mentions.known_names(tx, namespace)))
            self._matchers[namespace] = cached
        return cached[1]
