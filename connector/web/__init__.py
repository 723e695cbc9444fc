"""FastAPI composition root: the app factory, routers per surface, error mapping."""
