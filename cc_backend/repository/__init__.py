"""The job database: the only package that speaks SQL."""
