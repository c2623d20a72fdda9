"""Event simulator writing the challenge format with Supera-style labels (see docs/simulation.md)."""
