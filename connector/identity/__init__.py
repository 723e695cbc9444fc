"""Identity adapters: key files, DID resolution over HTTP, self-issued tokens, trust decisions."""
