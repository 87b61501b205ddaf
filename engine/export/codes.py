"""SNOMED CT category and type codes for segment names (a small dictionary of common names).

Matched on whole words, abnormal findings first ("liver lesion" is a lesion, "brain tumour" a
neoplasm); anything unknown is Anatomical Structure / Tissue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

SCT = codes.SCT
ABNORMAL = SCT.MorphologicallyAbnormalStructure
TISSUE = SCT.Tissue
SUBSTANCE = SCT.BodySubstance
ORGAN = SCT.Organ
STRUCTURE = SCT.AnatomicalStructure


@dataclass(frozen=True)
class SegmentCodes:
    category: Code
    type: Code

    def to_json(self) -> dict:
        return {
            "category": {
                "code": self.category.value,
                "scheme": self.category.scheme_designator,
                "meaning": self.category.meaning,
            },
            "type": {
                "code": self.type.value,
                "scheme": self.type.scheme_designator,
                "meaning": self.type.meaning,
            },
        }


# (regular expression on the normalised name, category, type); first match wins.
_TABLE: tuple[tuple[str, Code, Code], ...] = (
    (r"metasta\w*", ABNORMAL, SCT.Metastasis),
    (r"tumou?rs?|neoplasms?|cancer|carcinoma|glioma|enhancing|non enhancing", ABNORMAL, SCT.Neoplasm),
    (r"lesions?", ABNORMAL, SCT.Lesion),
    (r"cysts?", ABNORMAL, SCT.Cyst),
    (r"o?edema", ABNORMAL, SCT.Edema),
    (r"necros[ie]s|necrotic", ABNORMAL, SCT.Necrosis),
    (r"ha?emorrhage|bleed", ABNORMAL, SCT.Hemorrhage),
    (r"nodules?", ABNORMAL, SCT.Nodule),
    (r"mass(es)?", ABNORMAL, SCT.Mass),
    (r"gr[ae]y matter|gm", TISSUE, SCT.GrayMatter),
    (r"white matter|wm", TISSUE, SCT.WhiteMatter),
    (r"csf|cerebrospinal fluid", SUBSTANCE, SCT.CerebrospinalFluid),
    (r"blood", SUBSTANCE, SCT.Blood),
    (r"fat|adipose", TISSUE, SCT.Fat),
    (r"muscles?", TISSUE, SCT.Muscle),
    (r"bones?", TISSUE, SCT.Bone),
    (r"cartilage", TISSUE, SCT.Cartilage),
    (r"skin", TISSUE, SCT.Skin),
    (r"liver", ORGAN, SCT.Liver),
    (r"kidneys?|renal", ORGAN, SCT.Kidney),
    (r"spleen", ORGAN, SCT.Spleen),
    (r"pancreas", ORGAN, SCT.Pancreas),
    (r"lungs?", ORGAN, SCT.Lung),
    (r"heart", ORGAN, SCT.Heart),
    (r"prostate", ORGAN, SCT.Prostate),
    (r"gall ?bladder", ORGAN, SCT.Gallbladder),
    (r"(urinary )?bladder", ORGAN, SCT.Bladder),
    (r"stomach", ORGAN, SCT.Stomach),
    (r"o?esophagus", ORGAN, SCT.Esophagus),
    (r"colon", ORGAN, SCT.Colon),
    (r"thyroid", ORGAN, SCT.Thyroid),
    (r"adrenals?( glands?)?", ORGAN, SCT.AdrenalGland),
    (r"uterus", ORGAN, SCT.Uterus),
    (r"brain ?stem", STRUCTURE, SCT.BrainStem),
    (r"cerebellum", STRUCTURE, SCT.Cerebellum),
    (r"thalamus", STRUCTURE, SCT.Thalamus),
    (r"hippocamp\w*", STRUCTURE, SCT.Hippocampus),
    (r"ventricles?", STRUCTURE, SCT.Ventricle),
    (r"brain", ORGAN, SCT.Brain),
    (r"aorta", STRUCTURE, SCT.Aorta),
    (r"spinal cord", STRUCTURE, SCT.SpinalCord),
    (r"vertebra[e]?|spine", STRUCTURE, SCT.Vertebra),
    (r"vessels?|vascular", STRUCTURE, SCT.BloodVessel),
)
_COMPILED = tuple((re.compile(rf"(?:^|\s)(?:{p})(?:\s|$)"), c, t) for p, c, t in _TABLE)
DEFAULT = SegmentCodes(STRUCTURE, TISSUE)


def _normalise(name: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", str(name).lower()).split())


def codes_for(name: str) -> SegmentCodes:
    """Category and type codes for a segment called ``name``."""
    text = _normalise(name)
    for pattern, category, type_ in _COMPILED:
        if pattern.search(text):
            return SegmentCodes(category, type_)
    return DEFAULT
