"""Target types of unikernel_rules, one module per concern: `image` (`unikernel_image`),
`kernel` (`unikernel_kernel`), `c` (`c_program`, `c_library`), `java` (`java_program`, `java_jar`),
`python` (fields added to `pex_binary`), `guest` (the container-like guest fields of
`unikernel_image`), `files` (`unikernel_files`). Everything is re-exported here for `register.py`
and the rules."""

from __future__ import annotations

from unikernel_rules.target_types.image import (  # noqa: F401
    UnikernelImageDependenciesField,
    UnikernelKernelField,
    UnikernelCommandField,
    UnikernelArgsField,
    UnikernelEnvField,
    UnikernelMemoryField,
    UnikernelCpusField,
    parse_port_mapping,
    UnikernelPortsField,
    UnikernelKernelArgsField,
    UnikernelInitrdCompressionField,
    UnikernelRootField,
    UnikernelDiskCompressionField,
    UnikernelOutputPathField,
    UnikernelBenchmarkField,
    UnikernelImageTarget,
)
from unikernel_rules.target_types.formats import UnikernelFormatsField  # noqa: F401
from unikernel_rules.target_types.platform import UnikernelPlatformField  # noqa: F401
from unikernel_rules.target_types.publish import (  # noqa: F401
    UnikernelImageTagsField,
    UnikernelRegistriesField,
    UnikernelRepositoryField,
    UnikernelSkipPushField,
)
from unikernel_rules.target_types.kernel import (  # noqa: F401
    KernelSourcePackageField,
    KernelFragmentsField,
    KernelIncludeBuiltinFragmentsField,
    KernelToolchainPackagesField,
    UnikernelKernelTarget,
)
from unikernel_rules.target_types.c import (  # noqa: F401
    CSourcesField,
    CProgramSourcesField,
    CLibrarySourcesField,
    CTextualHeadersField,
    CDefinesField,
    CCoptsField,
    CLinkoptsField,
    CDependenciesField,
    CBinaryNameField,
    CProgramTarget,
    CLibraryTarget,
)
from unikernel_rules.target_types.files import (  # noqa: F401
    MOUNTED_DIRS,
    INIT_PATHS,
    climbs_out,
    guest_path_problem,
    UnikernelFilesSourcesField,
    UnikernelFilesDestinationField,
    UnikernelFilesTarget,
)
from unikernel_rules.target_types.java import (  # noqa: F401
    JavaSourcesField,
    JavaMainClassField,
    JavaDependenciesField,
    JdkModulesField,
    JdkModulesExcludeField,
    JavaHeadlessField,
    JavaDebianPackagesField,
    JdepsIgnoreMissingDepsField,
    JavacOptionsField,
    JvmOptionsField,
    JavaCdsField,
    JavaProgramTarget,
    JavaJarFileField,
    JavaJarCoordinateField,
    JavaJarSha256Field,
    JavaJarDependenciesField,
    JavaJarTarget,
    MAVEN_COORDINATE,
)
from unikernel_rules.target_types.python import (  # noqa: F401
    UnikernelStdlibField,
    UnikernelStdlibKeepField,
)
from unikernel_rules.target_types.guest import (  # noqa: F401
    default_hostname,
    parse_size_mib,
    overlaps,
    UnikernelHostnameField,
    GuestUser,
    UnikernelUserField,
    UnikernelNetworkField,
    GuestVolume,
    UnikernelVolumesField,
    UnikernelWritablePathsField,
    UnikernelCaCertificatesField,
    UnikernelTimezoneField,
    APP_USER,
    APP_UID,
    APP_GID,
    RESERVED_PATHS,
    NETWORK_MODES,
    VOLUME_MIN_MIB,
    VOLUME_MAX_MIB,
    GUEST_FIELDS,
)
