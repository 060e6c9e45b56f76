"""Applications run by the demo users: their resource habits and their batch scripts.

Each :class:`App` carries what shapes a job of it: how many nodes it asks for, how long it
runs, how it behaves (compute- or memory-bound, idle, leaking memory, ...) and how much of
a node's flop rate, memory bandwidth and memory it uses. :func:`job_script` writes a Slurm
batch script with module loads and launch lines that name the application, so that an
application detector matching the script recognises it; ``tag`` is the name such a
detector gives it (``None`` for in-house codes no rule knows).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from cc_backend.demo.profiles import Behaviour

__all__ = ["APPS", "App", "ScriptRequest", "job_script"]

_B = Behaviour


@dataclass(frozen=True, slots=True, eq=False)
class App:
    """An application and the resource habits of its jobs (compared by identity)."""

    tag: str | None
    label: str
    #: Job-name stems.
    names: tuple[str, ...]
    #: Module loads and launch lines on CPU nodes (empty: not run on CPU nodes).
    cpu_lines: tuple[str, ...]
    #: Module loads and launch lines on GPU nodes (empty: not run on GPU nodes).
    gpu_lines: tuple[str, ...] = ()
    #: Behaviours of its jobs with their weights (GPU jobs may also leave their GPUs idle).
    behaviours: tuple[tuple[Behaviour, float], ...] = ((_B.COMPUTE, 1.0),)
    #: Median run time in hours.
    hours: float = 2.0
    #: Share of multi-node jobs and the largest node count asked for.
    multinode: float = 0.0
    max_nodes: int = 1
    #: Fractions of a node's SIMD flop rate, memory bandwidth and memory when busy.
    flops: float = 0.05
    bandwidth: float = 0.3
    memory: float = 0.2
    #: Share of double precision in the flop rate, vectorisation ratio in percent.
    double: float = 0.9
    vector: float = 50.0
    #: Range of the share of allocated cores the job keeps busy.
    cores: tuple[float, float] = (0.9, 1.0)
    #: GPU utilisation and GPU memory share when busy (GPU jobs).
    gpu_load: float = 0.8
    gpu_memory: float = 0.5
    #: Whether its users submit job arrays of it.
    arrays: bool = False


_MPI = "module load intel/2023.2 impi/2021.10"
_CUDA = "module load cuda/12.4"

#: The applications; in-house codes (tag ``None``) last.
APPS: tuple[App, ...] = (
    App("gromacs", "GROMACS", ("md_prod", "equil_npt", "membrane_sim", "protein_fold"),
        ("module load gromacs/2024.1-gcc12-mkl",
         "srun gmx_mpi mdrun -deffnm {name} -maxh {hours} -ntomp {threads}"),
        ("module load gromacs/2024.1-gcc12-mkl-cuda",
         "gmx mdrun -deffnm {name} -nb gpu -pme gpu -ntmpi {gpus} -ntomp 16"),
        ((_B.COMPUTE, 0.8), (_B.MEMORY, 0.06), (_B.IO, 0.05), (_B.IDLE, 0.05), (_B.LEAK, 0.04)),
        hours=2, multinode=0.3, max_nodes=32, flops=0.12, bandwidth=0.25, memory=0.08,
        double=0.1, vector=85, gpu_load=0.75, gpu_memory=0.3, arrays=True),
    App("lammps", "LAMMPS", ("lj_melt", "polymer_chain", "crack_front", "granular_flow"),
        ("module load lammps/20230802-gcc12-openmpi", "srun lmp -in in.{name} -log log.{name}"),
        ("module load lammps/20230802-gcc12-kokkos-cuda",
         "srun lmp -k on g {gpus} -sf kk -in in.{name}"),
        ((_B.COMPUTE, 0.7), (_B.MEMORY, 0.2), (_B.IO, 0.05), (_B.IDLE, 0.05)),
        hours=1, multinode=0.35, max_nodes=64, flops=0.06, bandwidth=0.35, memory=0.15,
        vector=40, gpu_load=0.6, gpu_memory=0.4),
    App("vasp", "VASP", ("relax_slab", "band_structure", "md_liquid", "phonons_si"),
        (_MPI, "module load vasp6/6.4.2", "srun vasp_std > vasp.out"),
        (), ((_B.COMPUTE, 0.55), (_B.MEMORY, 0.35), (_B.LEAK, 0.05), (_B.IDLE, 0.05)),
        hours=1.5, multinode=0.35, max_nodes=16, flops=0.2, bandwidth=0.45, memory=0.45,
        vector=70),
    App("openfoam", "OpenFOAM", ("pitz_daily", "motorbike", "channel395", "mixer_vessel"),
        ("module load openfoam/v2312", "source $FOAM_BASH", "decomposePar -force",
         "srun simpleFoam -parallel > log.simpleFoam", "reconstructPar -latestTime"),
        (), ((_B.MEMORY, 0.7), (_B.COMPUTE, 0.15), (_B.IO, 0.1), (_B.IDLE, 0.05)),
        hours=1.75, multinode=0.5, max_nodes=64, flops=0.03, bandwidth=0.8, memory=0.35,
        vector=20),
    App("cp2k", "CP2K", ("h2o_64", "aimd_water", "geo_opt", "cell_opt"),
        ("module load cp2k/2024.1-gcc12-openmpi",
         "srun cp2k.psmp -i {name}.inp -o {name}.out"),
        (), ((_B.COMPUTE, 0.6), (_B.MEMORY, 0.3), (_B.LEAK, 0.05), (_B.IDLE, 0.05)),
        hours=1, multinode=0.35, max_nodes=32, flops=0.15, bandwidth=0.4, memory=0.4,
        vector=60),
    App("julia", "Julia", ("ode_sweep", "climate_ens", "agent_model", "sde_fit"),
        ("module load julia/1.10.4", "julia --project=. -t {threads} run_{name}.jl"),
        (_CUDA, "module load julia/1.10.4", "julia --project=. train_{name}.jl"),
        ((_B.COMPUTE, 0.4), (_B.MEMORY, 0.2), (_B.IDLE, 0.15), (_B.LEAK, 0.1), (_B.IO, 0.15)),
        hours=0.35, multinode=0.05, max_nodes=8, flops=0.05, bandwidth=0.3, memory=0.2,
        vector=35, cores=(0.1, 1.0), gpu_load=0.7, arrays=True),
    App("matlab", "MATLAB", ("signal_batch", "fem_solver", "image_stats", "param_study"),
        ("module load matlab/R2024a", 'matlab -nodisplay -nosplash -batch "{name}"'),
        (), ((_B.COMPUTE, 0.3), (_B.IDLE, 0.35), (_B.MEMORY, 0.15), (_B.LEAK, 0.1), (_B.IO, 0.1)),
        hours=0.3, flops=0.02, bandwidth=0.15, memory=0.15, vector=30, cores=(0.01, 0.2),
        arrays=True),
    App("orca", "ORCA", ("dlpno_ccsd", "tddft_dye", "opt_freq", "nmr_shifts"),
        ("module load openmpi/4.1.6-gcc12 orca/6.0.0",
         "$(which orca) {name}.inp > {name}.out"),
        (), ((_B.COMPUTE, 0.6), (_B.MEMORY, 0.2), (_B.IO, 0.15), (_B.LEAK, 0.05)),
        hours=0.7, multinode=0.05, max_nodes=4, flops=0.1, bandwidth=0.3, memory=0.3,
        vector=45, arrays=True),
    App("turbomole", "TURBOMOLE", ("ri_opt", "excited_states", "cluster_scan"),
        ("module load turbomole/7.8", "export PARA_ARCH=SMP", "ridft > ridft.out",
         "rdgrad > rdgrad.out"),
        (), ((_B.COMPUTE, 0.6), (_B.MEMORY, 0.25), (_B.IO, 0.1), (_B.IDLE, 0.05)),
        hours=0.7, multinode=0.05, max_nodes=4, flops=0.12, bandwidth=0.35, memory=0.3,
        vector=55),
    App("starccm", "STAR-CCM+", ("car_aero", "heat_exchanger", "pump_impeller"),
        ("module load star-ccm+/18.06.006",
         "starccm+ -batch run.java -np $SLURM_NTASKS -mpi intel "
         "-podkey $PODKEY -licpath 1999@licenses.example.org {name}.sim"),
        (), ((_B.MEMORY, 0.6), (_B.COMPUTE, 0.3), (_B.IO, 0.1)),
        hours=3, multinode=0.6, max_nodes=64, flops=0.04, bandwidth=0.75, memory=0.4,
        vector=25),
    App("chroma", "Chroma", ("hmc_l32", "props_l48", "spectro_l24"),
        (), (_CUDA, "module load chroma/2023-quda",
             "srun chroma -i {name}.ini.xml -o {name}.out.xml -geom 1 1 1 {gpus}"),
        hours=3, multinode=0.1, max_nodes=4, gpu_load=0.9, gpu_memory=0.7),
    App("python", "Python", ("postprocess", "feature_extract", "hyperopt_search", "data_clean"),
        ("module load python/3.12-conda", "conda activate analysis", "python {name}.py"),
        ("module load python/3.12-conda", _CUDA, "conda activate torch",
         "srun python train.py --config configs/{name}.yaml"),
        ((_B.IO, 0.3), (_B.IDLE, 0.25), (_B.COMPUTE, 0.2), (_B.LEAK, 0.15), (_B.MEMORY, 0.1)),
        hours=0.3, multinode=0.02, max_nodes=4, flops=0.01, bandwidth=0.1, memory=0.15,
        double=0.3, vector=10, cores=(0.014, 0.5), gpu_load=0.85, gpu_memory=0.75, arrays=True),
    App(None, "in-house code", ("solver3d", "lbm_sim", "stencil_bench", "nbody", "wave_prop"),
        (_MPI, "srun ./bin/{name} input.cfg"),
        ("module load nvhpc/24.3", _CUDA, "srun ./build/{name} --devices {gpus}"),
        ((_B.COMPUTE, 0.4), (_B.MEMORY, 0.3), (_B.IDLE, 0.15), (_B.IO, 0.1), (_B.LEAK, 0.05)),
        hours=0.6, multinode=0.25, max_nodes=128, flops=0.08, bandwidth=0.5, memory=0.25,
        vector=50, arrays=True),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ScriptRequest:
    """What a batch script asks Slurm for."""

    name: str
    partition: str
    nodes: int
    tasks_per_node: int
    threads: int
    walltime: int
    gpus: int = 0
    gpu_model: str = ""
    array_size: int = 0


def _hms(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


@functools.lru_cache(maxsize=8192)
def job_script(app: App, request: ScriptRequest) -> str:
    """The Slurm batch script of a job of ``app``."""
    lines = [
        "#!/bin/bash -l",
        f"#SBATCH --job-name={request.name}",
        f"#SBATCH --partition={request.partition}",
        f"#SBATCH --nodes={request.nodes}",
        f"#SBATCH --ntasks-per-node={request.tasks_per_node}",
        f"#SBATCH --cpus-per-task={request.threads}",
        f"#SBATCH --time={_hms(request.walltime)}",
    ]
    if request.gpus:
        lines.append(f"#SBATCH --gres=gpu:{request.gpu_model.lower()}:{request.gpus}")
    if request.array_size:
        lines.append(f"#SBATCH --array=0-{request.array_size - 1}")
    lines += ["#SBATCH --export=NONE", "", "unset SLURM_EXPORT_ENV", "module purge"]
    lines.append(f"export OMP_NUM_THREADS={request.threads}")
    lines.append(f"cd $WORK/runs/{request.name}")
    body = app.gpu_lines if request.gpus else app.cpu_lines
    values = {
        "name": request.name,
        "threads": request.threads,
        "gpus": request.gpus,
        "hours": round(request.walltime / 3600 * 0.95, 2),
    }
    lines += [line.format(**values) for line in body]
    return "\n".join(lines) + "\n"
