"""Fleet memory: several robots, one shared memory on PostgreSQL (docs/architecture.md "Fleet memory").

Each robot keeps its embedded store; with ``memory.fleet.url`` set, every update also writes an outbox row
in the same SQLite transaction, and :class:`robomem.fleet.sync.FleetSync` delivers the rows (at least once)
to PostgreSQL, where applying them is idempotent.  The core never needs the server: it is optional.
"""
