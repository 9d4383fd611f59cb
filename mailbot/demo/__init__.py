"""The demo: an embedded mail world on loopback, a config for it, and the whole SOP played in seconds."""
