"""Reliability and security: faults survived, hostile input refused, nothing lost or leaked."""
