"""Repository-root conftest: makes the top-level ``datasets`` package importable in tests."""
