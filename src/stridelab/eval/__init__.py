"""Evaluation on a fixed command grid, and the "walks" verdict."""
