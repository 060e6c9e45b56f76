"""The synthetic site: clusters, subclusters, partitions, node names, job names.

Four clusters of different size and purpose, modelled on a typical university HPC centre:
a large exclusive CPU cluster, a GPU cluster with shared nodes, a throughput cluster of
single-node shared jobs and an older exclusive CPU cluster.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SubCluster:
    """A homogeneous group of nodes of one cluster."""

    name: str
    #: Host name prefix; hosts are ``prefix + rack + node`` (two digits each), e.g. f0101.
    prefix: str
    racks: tuple[int, ...]
    #: First and last node number within a rack.
    nodes: tuple[int, int]
    #: Hardware threads per node.
    hwthreads: int
    #: Accelerators (GPUs) per node.
    gpus: int
    #: Largest job in nodes.
    max_nodes: int
    #: Partitions of single-node jobs with their weights.
    partitions: tuple[tuple[str, float], ...]
    #: Partition of multi-node jobs (``None``: the single-node partitions are used).
    multinode_partition: str | None = None
    #: Share of this subcluster's jobs within its cluster.
    weight: float = 1.0
    #: Node memory in GB (bounds ``mem_used_avg``).
    memory_gb: int = 256

    @property
    def hostnames(self) -> list[str]:
        """All host names, in allocation order."""
        first, last = self.nodes
        return [
            f"{self.prefix}{rack:02d}{node:02d}"
            for rack in self.racks
            for node in range(first, last + 1)
        ]


@dataclass(frozen=True)
class Cluster:
    """A cluster and how its jobs look."""

    name: str
    #: Share of all jobs, before per-user preferences.
    weight: float
    subclusters: tuple[SubCluster, ...]
    #: First scheduler job id.
    job_id_base: int
    #: Probability that a (non-array) job uses a single node.
    single_node: float
    #: Nodes are shared between jobs (jobs get hwthread/accelerator subsets).
    shared_nodes: bool
    #: Peak flop rate per node in GFlop/s and memory bandwidth per node in GB/s.
    peak_gflops: float
    peak_mem_bw: float


CLUSTERS: tuple[Cluster, ...] = (
    Cluster(
        name="fritz",
        weight=0.34,
        job_id_base=1_000_000,
        single_node=0.6,
        shared_nodes=False,
        peak_gflops=5000.0,
        peak_mem_bw=350.0,
        subclusters=(
            SubCluster(
                name="main",
                prefix="f",
                racks=tuple(range(1, 13)),
                nodes=(1, 64),
                hwthreads=72,
                gpus=0,
                max_nodes=256,
                partitions=(("singlenode", 1.0),),
                multinode_partition="multinode",
                weight=0.9,
            ),
            SubCluster(
                name="spr1tb",
                prefix="f",
                racks=(21,),
                nodes=(1, 48),
                hwthreads=104,
                gpus=0,
                max_nodes=8,
                partitions=(("spr1tb", 1.0),),
                weight=0.07,
                memory_gb=1024,
            ),
            SubCluster(
                name="spr2tb",
                prefix="f",
                racks=(22,),
                nodes=(1, 8),
                hwthreads=104,
                gpus=0,
                max_nodes=4,
                partitions=(("spr2tb", 1.0),),
                weight=0.03,
                memory_gb=2048,
            ),
        ),
    ),
    Cluster(
        name="alex",
        weight=0.2,
        job_id_base=600_000,
        single_node=0.88,
        shared_nodes=True,
        peak_gflops=2000.0,
        peak_mem_bw=300.0,
        subclusters=(
            SubCluster(
                name="a40",
                prefix="a",
                racks=(1, 2, 3, 4),
                nodes=(21, 36),
                hwthreads=128,
                gpus=8,
                max_nodes=8,
                partitions=(("a40", 0.85), ("preempt", 0.15)),
                weight=0.6,
                memory_gb=512,
            ),
            SubCluster(
                name="a100",
                prefix="a",
                racks=(5,),
                nodes=(21, 40),
                hwthreads=128,
                gpus=8,
                max_nodes=8,
                partitions=(("a100", 1.0),),
                weight=0.25,
                memory_gb=1024,
            ),
            SubCluster(
                name="a100m80",
                prefix="a",
                racks=(6,),
                nodes=(21, 36),
                hwthreads=128,
                gpus=8,
                max_nodes=8,
                partitions=(("a100", 1.0),),
                weight=0.15,
                memory_gb=2048,
            ),
        ),
    ),
    Cluster(
        name="woody",
        weight=0.34,
        job_id_base=3_000_000,
        single_node=1.0,
        shared_nodes=True,
        peak_gflops=800.0,
        peak_mem_bw=90.0,
        subclusters=(
            SubCluster(
                name="skylake",
                prefix="w",
                racks=(11, 12, 13, 14),
                nodes=(1, 32),
                hwthreads=16,
                gpus=0,
                max_nodes=1,
                partitions=(("work", 0.9), ("devel", 0.1)),
                weight=0.5,
                memory_gb=32,
            ),
            SubCluster(
                name="icelake",
                prefix="w",
                racks=(22, 23),
                nodes=(1, 36),
                hwthreads=32,
                gpus=0,
                max_nodes=1,
                partitions=(("work", 0.9), ("devel", 0.1)),
                weight=0.5,
                memory_gb=64,
            ),
        ),
    ),
    Cluster(
        name="meggie",
        weight=0.12,
        job_id_base=200_000,
        single_node=0.7,
        shared_nodes=False,
        peak_gflops=700.0,
        peak_mem_bw=110.0,
        subclusters=(
            SubCluster(
                name="default",
                prefix="m",
                racks=tuple(range(1, 9)),
                nodes=(1, 64),
                hwthreads=20,
                gpus=0,
                max_nodes=64,
                partitions=(("work", 0.95), ("devel", 0.05)),
                memory_gb=64,
            ),
        ),
    ),
)

#: Job names, each with the module its script loads and the program it starts.
JOB_KINDS: tuple[tuple[str, str, str], ...] = (
    ("lammps_run", "lammps", "lmp -in in.lj"),
    ("gromacs_md", "gromacs", "gmx_mpi mdrun -deffnm md"),
    ("vasp_relax", "vasp", "vasp_std"),
    ("cp2k_opt", "cp2k", "cp2k.psmp -i opt.inp"),
    ("openfoam_case", "openfoam", "simpleFoam -parallel"),
    ("wrf_forecast", "wrf", "wrf.exe"),
    ("namd_equil", "namd", "namd2 equil.conf"),
    ("quantum_espresso", "qe", "pw.x -in scf.in"),
    ("fluent_sim", "ansys", "fluent 3ddp -g -i run.jou"),
    ("star_ccm", "starccm", "starccm+ -batch run.java"),
    ("train_resnet", "pytorch", "python train.py --arch resnet50"),
    ("retrain_SNN", "pytorch", "python retrain.py"),
    ("llm_finetune", "pytorch", "torchrun finetune.py"),
    ("tf_inference", "tensorflow", "python infer.py"),
    ("ams_pipeline", "ams", "ams --input job.in"),
    ("matlab_batch", "matlab", "matlab -batch main"),
    ("python_analysis", "python", "python analyse.py"),
    ("r_statistics", "r", "Rscript model.R"),
    ("julia_solver", "julia", "julia solve.jl"),
    ("param_sweep", "python", "python sweep.py $SLURM_ARRAY_TASK_ID"),
    ("hpl_bench", "intel", "xhpl"),
    ("stream_bench", "intel", "stream_c.exe"),
    ("interactive", "python", "bash"),
    ("jupyter", "python", "jupyter lab --no-browser"),
    ("postproc", "paraview", "pvbatch render.py"),
    ("mesh_gen", "gmsh", "gmsh -3 geometry.geo"),
    ("orca_dft", "orca", "orca input.inp"),
    ("abinit_gs", "abinit", "abinit run.abi"),
    ("alphafold", "alphafold", "run_alphafold.sh"),
    ("blender_render", "blender", "blender -b scene.blend -a"),
)
