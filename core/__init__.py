"""Shared plumbing: errors, paths, the market-data store, its sources and the in-memory Market."""
