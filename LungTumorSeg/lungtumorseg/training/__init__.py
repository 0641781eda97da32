"""Zone-wise UNETR training on MSD-layout data (see :mod:`.trainer`)."""
