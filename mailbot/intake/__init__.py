"""Inbound mail: IMAP fetch, redaction, parsing, classification, routing and processing."""
