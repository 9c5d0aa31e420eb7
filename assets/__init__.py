"""Dagster assets, checks, jobs, schedules and sensors, built from hub.yaml by one factory
per layer: raw -> unified -> serve -> agents, with quality checks on every table."""
