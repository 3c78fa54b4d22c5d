"""Shipped protocol definitions (TOML). Loaded through harmoniq.protocols."""
