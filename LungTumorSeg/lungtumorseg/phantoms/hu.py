"""Tissue attenuation values (Hounsfield units) used by the phantom, with sources.

Each case draws its own value for every tissue from the published range below, so the
network sees inter-patient and inter-scanner spread rather than one fixed number.

=====================  ==================  =============================================
Tissue                 HU range used       Source
=====================  ==================  =============================================
Air                    -1000               Hounsfield 1973 (definition); Brooks 1977
Lung parenchyma        -880 ... -820       Kalender 2011 (lung -900...-500 overall);
(mean, supine)         +30...+80 gradient  Webb, Mueller & Naidich 2014 (normal lung
                       to dependent lung   about -850, denser dependent lung in supine)
Fat (subcut., medi.)   -110 ... -80        Kalender 2011 (fat -100...-80);
                                           Brooks 1977
Skeletal muscle        +40 ... +60         Kalender 2011 (+35...+55 soft tissue)
Blood, unenhanced      +35 ... +45         Kalender 2011; Bae 2010
Aorta, arterial phase  +200 ... +350       Bae 2010 (target >= 200-250 HU)
Pulmonary arteries,    +150 ... +300       Bae 2010
  enhanced
Myocardium             +40 ... +50 (unenh) Kalender 2011; enhanced +90...+130 (Bae 2010)
Liver, unenhanced      +55 ... +65         Kodama et al. 2007
Liver, enhanced        +90 ... +120        Bae 2010 (portal venous phase)
Spleen, unenhanced     +42 ... +50         Kodama et al. 2007 (liver-spleen difference)
Spleen, enhanced       +100 ... +130       Bae 2010
Kidney                 +30 ... +40 (unenh) Kalender 2011; cortex +150 enhanced
Stomach contents       +5 ... +25          water-like fluid (Kalender 2011)
Cortical bone          +900 ... +1500      Kalender 2011 (compact bone +700...+1900;
                                           thin cortices read lower after blurring)
Cancellous bone        +150 ... +300       Pickhardt et al. 2013; Schreiber et al. 2011
Intervertebral disc    +70 ... +100        Kalender 2011 (dense soft tissue)
Costal cartilage       +100 ... +160       Kalender 2011
CSF / spinal cord      +10 ... +35         Kalender 2011
Solid lung nodule      +10 ... +50 (unenh) Hansell et al. 2008 (Fleischner glossary:
                       +20...+40 enhanc.   solid = soft-tissue attenuation, 0...+60)
Ground-glass opacity   -700 ... -350       Hansell et al. 2008; Naidich et al. 2013
CT table (carbon fibre +100 ... +300 shell manufacturer data for carbon-fibre tops;
  shell / foam core)   -950 ... -850 core  (not a clinical value, only must look right)
Image noise (soft      8 ... 25 HU sigma   Kalender 2011 (routine chest CT 10-25 HU)
  tissue)
=====================  ==================  =============================================

References
----------
* Hounsfield GN. Computerized transverse axial scanning (tomography). 1. Description of
  system. Br J Radiol 1973;46:1016-1022.
* Brooks RA. A quantitative theory of the Hounsfield unit and its application to dual
  energy scanning. J Comput Assist Tomogr 1977;1(4):487-493.
* Kalender WA. Computed Tomography: Fundamentals, System Technology, Image Quality,
  Applications. 3rd ed. Publicis, 2011.
* Webb WR, Mueller NL, Naidich DP. High-Resolution CT of the Lung. 5th ed. Wolters
  Kluwer, 2014.
* Hansell DM, Bankier AA, MacMahon H, McLoud TC, Mueller NL, Remy J. Fleischner Society:
  glossary of terms for thoracic imaging. Radiology 2008;246(3):697-722.
* Naidich DP, Bankier AA, MacMahon H, et al. Recommendations for the management of
  subsolid pulmonary nodules detected at CT: a statement from the Fleischner Society.
  Radiology 2013;266(1):304-317.
* Kodama Y, Ng CS, Wu TT, et al. Comparison of CT methods for determining the fat
  content of the liver. AJR Am J Roentgenol 2007;188(5):1307-1312.
* Bae KT. Intravenous contrast medium administration and scan timing at CT:
  considerations and approaches. Radiology 2010;256(1):32-61.
* Pickhardt PJ, Pooler BD, Lauder T, et al. Opportunistic screening for osteoporosis
  using abdominal computed tomography scans obtained for other indications. Ann Intern
  Med 2013;158(8):588-595.
* Schreiber JJ, Anderson PA, Rosas HG, Buchholz AL, Au AG. Hounsfield units for
  assessing bone mineral density and strength: a tool for osteoporosis management.
  J Bone Joint Surg Am 2011;93(11):1057-1063.
"""

from __future__ import annotations

import numpy as np

AIR = -1000.0
HU_MIN = -1024.0
HU_MAX = 3071.0

#: (low, high) ranges, unenhanced, from the table above.
RANGES: dict[str, tuple[float, float]] = {
    "lung": (-880.0, -820.0),
    "lung_gradient": (30.0, 80.0),
    "fat": (-110.0, -80.0),
    "muscle": (40.0, 60.0),
    "skin": (20.0, 50.0),
    "blood": (35.0, 45.0),
    "myocardium": (40.0, 50.0),
    "liver": (55.0, 65.0),
    "spleen": (42.0, 50.0),
    "kidney": (30.0, 40.0),
    "stomach": (5.0, 25.0),
    "cortical": (900.0, 1500.0),
    "cancellous": (150.0, 300.0),
    "disc": (70.0, 100.0),
    "cartilage": (100.0, 160.0),
    "csf": (10.0, 35.0),
    "airway_wall": (20.0, 50.0),
    "nodule_solid": (10.0, 50.0),
    "ggo": (-700.0, -350.0),
    "table_shell": (100.0, 300.0),
    "table_foam": (-950.0, -850.0),
}

#: Enhanced values used instead when the case is contrast-enhanced.
ENHANCED: dict[str, tuple[float, float]] = {
    "aorta": (200.0, 350.0),
    "pulmonary": (150.0, 300.0),
    "myocardium": (90.0, 130.0),
    "liver": (90.0, 120.0),
    "spleen": (100.0, 130.0),
    "kidney": (120.0, 180.0),
    "nodule_enhancement": (20.0, 40.0),
}


def sample_tissue_hu(rng: np.random.Generator, contrast: bool) -> dict[str, float]:
    """Draw one HU value per tissue for a case (uniform within the published range).

    Keys: every key of ``RANGES`` plus ``aorta``, ``pulmonary``, ``systemic_vein``
    (blood pools) which equal blood when unenhanced.
    """
    hu = {k: float(rng.uniform(*v)) for k, v in RANGES.items()}
    enh = {k: float(rng.uniform(*v)) for k, v in ENHANCED.items()}
    if contrast:
        hu["aorta"] = enh["aorta"]
        hu["pulmonary"] = enh["pulmonary"]
        hu["systemic_vein"] = 0.5 * (hu["blood"] + enh["pulmonary"])
        hu["heart_blood"] = 0.5 * (enh["aorta"] + enh["pulmonary"])
        for k in ("myocardium", "liver", "spleen", "kidney"):
            hu[k] = enh[k]
        hu["nodule_solid"] += enh["nodule_enhancement"]
    else:
        hu["aorta"] = hu["blood"]
        hu["pulmonary"] = hu["blood"]
        hu["systemic_vein"] = hu["blood"]
        hu["heart_blood"] = hu["blood"]
    return hu
