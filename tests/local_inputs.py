"""How tests hand a stage its inputs outside a run: local files, anywhere, under a guard."""

from __future__ import annotations

from cluster.admission import InputPolicy
from cluster.stages.inputs import InputAccess
from cluster.storage import RemoteLimits
from cluster.video.guard import GuardSettings


def access(guard: GuardSettings | None = None) -> InputAccess:
    return InputAccess(InputPolicy(("file",), None), RemoteLimits(), guard or GuardSettings())
