"""unikernel_rules: build Linux unikernel VM images from monorepo targets with Pants."""

from unikernel_rules.containers import rules as containers_rules
from unikernel_rules.containers import runner as container_runner
from unikernel_rules.debian import merge as debian_merge
from unikernel_rules.debian import rules as debian_rules
from unikernel_rules.debian import tool_python
from unikernel_rules.debian import tree as debian_tree
from unikernel_rules.formats import rules as formats_rules
from unikernel_rules.goals import package, run
from unikernel_rules.init import rules as init_rules
from unikernel_rules.kernel import rules as kernel_rules
from unikernel_rules.publish import rules as publish_rules
from unikernel_rules.qemu import rules as qemu_rules
from unikernel_rules.rootfs import layer_rules
from unikernel_rules.rootfs import guest as rootfs_guest
from unikernel_rules.rootfs import placement
from unikernel_rules.rootfs import image as rootfs_image
from unikernel_rules.rootfs import rules as rootfs_rules
from unikernel_rules.runtimes import c, java, python
from unikernel_rules.sbom import rules as sbom_rules
from unikernel_rules.subsystems import debian_tools, docker_sdk, java_runtime, python_runtime, unikernel_publish, unikernel_run, zig
from unikernel_rules.target_types import (
    CLibraryTarget,
    CProgramTarget,
    JavaJarTarget,
    JavaProgramTarget,
    UnikernelFilesTarget,
    UnikernelImageTarget,
    UnikernelKernelTarget,
)
from unikernel_rules.util_rules import tool_wheels, zig_cc


def target_types():
    return [
        UnikernelImageTarget,
        UnikernelKernelTarget,
        UnikernelFilesTarget,
        CProgramTarget,
        CLibraryTarget,
        JavaProgramTarget,
        JavaJarTarget,
    ]


def rules():
    return [
        *package.rules(),
        *run.rules(),
        *init_rules.rules(),
        *kernel_rules.rules(),
        *qemu_rules.rules(),
        *rootfs_rules.rules(),
        *layer_rules.rules(),
        *placement.rules(),
        *rootfs_image.rules(),
        *formats_rules.rules(),
        *containers_rules.rules(),
        *container_runner.rules(),
        *publish_rules.rules(),
        *sbom_rules.rules(),
        *unikernel_publish.rules(),
        *rootfs_guest.rules(),
        *c.rules(),
        *python.rules(),
        *python_runtime.rules(),
        *java.rules(),
        *java_runtime.rules(),
        *zig.rules(),
        *unikernel_run.rules(),
        *debian_tools.rules(),
        *docker_sdk.rules(),
        *debian_rules.rules(),
        *debian_merge.rules(),
        *debian_tree.rules(),
        *tool_python.rules(),
        *tool_wheels.rules(),
        *zig_cc.rules(),
    ]
