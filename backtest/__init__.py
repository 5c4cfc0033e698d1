"""Point-in-time simulation of an index: costs, currencies, analytics and reports."""
