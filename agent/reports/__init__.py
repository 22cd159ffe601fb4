"""Shift reports: what happened on cameras over a period, from the archive's records."""
