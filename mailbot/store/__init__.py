"""Persistence: the database, its tables and migrations, the blob store and the audit trail."""
