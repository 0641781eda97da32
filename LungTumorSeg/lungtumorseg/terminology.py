"""Standard codes for what LungTumorSeg segments, shared by the model card and the Slicer layer.

SNOMED CT codes as Slicer's terminology format uses them (coding scheme, code value, code
meaning). A lesion is a *morphologic abnormality* of DICOM CID 7159 (Lesion Segmentation
Type: Neoplasm, Nodule, Mass, ...), which is what Slicer's "DICOM master list" offers under
the category Morphologically Altered Structure; the organ goes in the anatomic region.
"Neoplasm of lung" (126713003) is a disorder concept, not a segmentation type, so it is not
used. This module has no dependencies, so the Slicer layer can import it before torch is
installed.
"""

from __future__ import annotations

Code = tuple[str, str, str]

LESION_CATEGORY: Code = ("SCT", "49755003", "Morphologically Altered Structure")
LESION_TYPE: Code = ("SCT", "108369006", "Neoplasm")
LUNG_REGION: Code = ("SCT", "39607008", "Lung")
ANATOMICAL_STRUCTURE: Code = ("SCT", "123037004", "Anatomical Structure")
LUNG_TYPE: Code = LUNG_REGION


def as_card_entry(code: Code) -> dict[str, str]:
    """One code as the model card writes it: ``{"scheme", "code", "meaning"}``."""
    scheme, value, meaning = code
    return {"scheme": scheme, "code": value, "meaning": meaning}


#: The lesion label's terminology in a model card (``labels["1"]["terminology"]``).
LESION_TERMINOLOGY: dict[str, dict[str, str]] = {
    "category": as_card_entry(LESION_CATEGORY),
    "type": as_card_entry(LESION_TYPE),
    "anatomic_region": as_card_entry(LUNG_REGION),
}
