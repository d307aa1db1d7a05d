"""UPT inverse losses."""
