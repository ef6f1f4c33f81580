"""Dagster wiring: thin assets, checks, jobs, schedules and sensors around the domain modules.

This is the only package that imports Dagster.
"""
