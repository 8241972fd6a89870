"""The optional native YAML reader; everything else about the package is in pyproject.toml.

`policies/engine/_fastyaml.c` turns libyaml's events straight into yamlio's line-tracked
values. It needs a C compiler and libyaml's headers (Debian: libyaml-dev, which `make install`
installs when it can). Without them the install goes on (`optional=True`) and netviz reads
YAML with yamlio's pure-Python reader; `make install` says so in one line.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "policies.engine._fastyaml",
            sources=["policies/engine/_fastyaml.c"],
            libraries=["yaml"],
            optional=True,
        )
    ]
)
