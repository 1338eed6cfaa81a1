"""The projection store primitive: engine from settings, migrations, atomic batch commits."""
