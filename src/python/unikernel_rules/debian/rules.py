from __future__ import annotations
from pants.engine.rules import collect_rules
from unikernel_rules.debian.subsystem import DebianLockSubsystem
def rules():
    return [*collect_rules(), *DebianLockSubsystem.rules()]
