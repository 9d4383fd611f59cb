"""Outgoing mail: templates rendered, MIME composed, the outbox and the SMTP adapter."""
