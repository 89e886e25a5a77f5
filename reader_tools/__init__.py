"""Card-side tools: read, check and write European Student Cards through PC/SC."""
