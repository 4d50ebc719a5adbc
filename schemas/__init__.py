"""Pydantic models at genrelay's boundaries: the unified job API, errors, and provider wire formats.

This package imports nothing else of the project, so every other part can depend on it.
"""
