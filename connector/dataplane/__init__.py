"""Data plane: access tokens, sources (file, SQL, HTTP upstream), transforms, streaming."""
