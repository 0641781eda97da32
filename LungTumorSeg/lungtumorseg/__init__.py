"""LungTumorSeg core library: region-wise UNETR lung tumour segmentation for chest CT.

Pure Python (numpy, SimpleITK, torch, MONAI). It never imports Qt or Slicer, so the same
code runs inside 3D Slicer (out of process), from the command line and in tests.

Data flows one way::

    image -> preprocess -> lungs/zones -> zone inference -> superpose -> post-process
          -> lesions -> measurements -> outputs
"""

__version__ = "0.9.1"
