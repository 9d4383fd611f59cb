"""The case file: records, documents and checks, review rounds, admin decisions, timers and delivery."""
