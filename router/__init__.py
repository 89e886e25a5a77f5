"""escrouter: a self-hostable clone of the European Student Card Router."""
