"""Performance benchmarks of the job database.

Run the modules from the project root, e.g. ``python -m benchmarks.generate_jobs`` and
``python -m benchmarks.bench_job_list``; see ``benchmarks/README.md``.
"""
