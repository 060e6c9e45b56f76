"""The domain model: plain data types and the one exception tree. No I/O here."""
