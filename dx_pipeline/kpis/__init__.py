"""KPIs: the catalogue (what is measured), plan targets, and their computation per agency."""
