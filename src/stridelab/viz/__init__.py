"""Looks: offscreen video, plots, the interactive viewer."""
