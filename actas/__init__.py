"""The tooling around the reader: the `actas` command, batch ingestion, synthetic actas, evaluation and
form authoring. It sits above `pipeline` (the reading core) and may use `service`; nothing below imports it."""
