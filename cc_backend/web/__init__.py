"""The web layer: REST handlers that decode requests, call services and encode answers."""
