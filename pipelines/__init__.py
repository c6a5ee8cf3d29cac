"""Thin entry points that MLproject calls: parse parameters, call the library."""
