"""Sources: agency submissions, the reporting database, the agency registry and the portal."""
