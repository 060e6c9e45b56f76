"""Job-specific performance monitoring for HPC clusters, compatible with ClusterCockpit."""

__version__ = "0.1.0"
