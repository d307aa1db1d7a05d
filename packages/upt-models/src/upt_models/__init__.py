"""UPT encoder, approximator and decoder."""
