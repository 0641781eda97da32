"""Seeded, deterministic synthetic thorax CT engine with ground-truth tumour masks.

Quick start::

    from lungtumorseg.phantoms import PhantomConfig, make_phantom, write_case
    case = make_phantom(7, PhantomConfig(size="small"))
    write_case(case, Path("out"), "case007")

Modules: ``config`` (PhantomConfig), ``hu`` (HU table + citations), ``patient``
(habitus and landmarks), ``grid`` (acquisition geometry), ``anatomy`` (slice-wise body,
bones, organs, lungs), ``mediastinum`` (3D tubes), ``lungs`` (vessel/airway trees),
``tumours``, ``scanner`` (PSF, noise, FOV), ``engine`` (make_phantom), ``writer``.
"""

from .config import PhantomConfig
from .engine import PhantomCase, make_phantom, plan_case
from .writer import write_case, write_msd_dataset

__all__ = ["PhantomConfig", "PhantomCase", "make_phantom", "plan_case", "write_case", "write_msd_dataset"]
