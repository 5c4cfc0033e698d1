"""Shipped, curated data: company master, exposure facts, events and methodologies (not code)."""
