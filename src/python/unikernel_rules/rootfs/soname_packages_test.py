from __future__ import annotations

from unikernel_rules.rootfs.soname_packages import candidates, policy_name


def test_policy_names_of_the_java_desktop_libraries() -> None:
    assert policy_name("libX11.so.6") == "libx11-6"
    assert policy_name("libXext.so.6") == "libxext6"
    assert policy_name("libasound.so.2") == "libasound2"
    assert policy_name("libpng16.so.16") == "libpng16-16"
    assert policy_name("liblcms2.so.2") == "liblcms2-2"
    assert policy_name("libfoo-1.2.so") == "libfoo-1.2"
    assert policy_name("libstdc++.so.6") == "libstdc++6"
    assert policy_name("libgcc_s.so.1") == "libgcc-s1"


def test_candidates_accept_transition_suffixes_only() -> None:
    lock = ["libharfbuzz0b", "libjpeg62-turbo", "libfreetype6", "libx11-6", "libx11-data", "libpng16-16"]
    assert candidates("libharfbuzz.so.0", lock) == ["libharfbuzz0b"]
    assert candidates("libjpeg.so.62", lock) == ["libjpeg62-turbo"]
    assert candidates("libfreetype.so.6", lock) == ["libfreetype6"]
    assert candidates("libX11.so.6", lock) == ["libx11-6"]
    # libpng16-16 does not ship libpng.so.16 (a prefix, but not a suffix of the policy name).
    assert candidates("libpng.so.1", lock) == []
    assert candidates("libgif.so.7", lock) == []
