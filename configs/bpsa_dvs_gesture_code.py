"""bpsa-bpta paper, DVS-Gesture, as the authors' released code (``BP-STA``) runs it.

    python train.py --config configs/bpsa_dvs_gesture_code.py --workdir runs/bpsa_dvs_gesture_code

``arg`` as in ``configs/bpsa_dvs_gesture.py`` (``bpsa_bpta`` default, ``bpsa``, ``baseline``, ``",T"``).

Target: Table 5, "Ours": **98.96 %**; Table 8: baseline 93.92 %, BPSA 97.56 %, BPSA + BPTA 98.96 %.

Changes against ``configs/bpsa_dvs_gesture.py`` (NOTES.md §2), nothing else: BPTA coefficient 0.2 instead
of 0.8, AdamW weight decay 1e-4, 5 warm-up epochs then one cosine decay instead of SGDR. The data,
the net and our choices (batch size, frames in equal time slices, ...) are those of the text config.
"""

from __future__ import annotations

import ml_collections

from configs import bpsa_common, bpsa_dvs_gesture

ARGS = bpsa_dvs_gesture.ARGS


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    return bpsa_common.released_code(bpsa_dvs_gesture.get_config(arg))
