"""NATS JetStream wiring: streams and subjects, the event store, the embedded server."""
