"""Polku's shared runtime: settings, logging, event store, relay, consumers, embedded NATS, CLI."""
