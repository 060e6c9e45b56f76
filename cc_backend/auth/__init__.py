"""Authentication: keys, tokens, and (later) the authenticator chain."""
