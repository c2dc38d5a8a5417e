import json

from unikernel_rules.runtimes.python_sbom import locked_distributions, wheel_name_version

LOCK = "// header\n//\n" + json.dumps(
    {
        "locked_resolves": [
            {
                "locked_requirements": [
                    {
                        "project_name": "Flask",
                        "version": "3.0.3",
                        "artifacts": [
                            {"algorithm": "sha256", "hash": "a" * 64, "url": "https://example.invalid/f/flask-3.0.3-py3-none-any.whl"},
                            {"algorithm": "sha256", "hash": "b" * 64, "url": "https://example.invalid/f/flask-3.0.3.tar.gz"},
                        ],
                    },
                    {
                        "project_name": "only-sdist",
                        "version": "1.0",
                        "artifacts": [{"algorithm": "sha256", "hash": "c" * 64, "url": "https://example.invalid/o/only-sdist-1.0.tar.gz"}],
                    },
                ]
            }
        ]
    }
)


def test_wheel_name_version() -> None:
    assert wheel_name_version("MarkupSafe-2.1.5-cp311-cp311-manylinux_2_17_x86_64.whl") == ("markupsafe", "2.1.5")


def test_the_lock_artifact_of_each_installed_wheel() -> None:
    found = locked_distributions(
        LOCK, "3rdparty/python/apps.lock", ["only_sdist-1.0-py3-none-any.whl", "flask-3.0.3-py3-none-any.whl", "local-0.1-py3-none-any.whl"]
    )
    assert [(d.name, d.version, d.artifact, d.sha256, d.lockfile) for d in found] == [
        ("flask", "3.0.3", "flask-3.0.3-py3-none-any.whl", "a" * 64, "3rdparty/python/apps.lock"),
        ("local", "0.1", "", "", ""),  # not in the lock (a local distribution)
        ("only-sdist", "1.0", "only-sdist-1.0.tar.gz", "c" * 64, "3rdparty/python/apps.lock"),  # built from the sdist
    ]
