"""The alignment projection's tables and the one fold that writes them (docs/design.md, "The
alignment projection: tables, one fold, reads by query")."""
