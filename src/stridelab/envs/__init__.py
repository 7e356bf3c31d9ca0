"""Vectorized environments and adapters."""
