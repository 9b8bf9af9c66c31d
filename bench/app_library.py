#!/usr/bin/env python3
"""Benchmark app, library side: 5 images x 10 versions with floating aliases, written with constructs_lib.

Run as a whole process by ``bench/run.py`` (the way ``cdk synth`` runs an app); the output directory
comes from CDK_OUTDIR. The workload is the shared table in ``bench/workload.py``.
"""

from __future__ import annotations

import aws_cdk as cdk
from workload import ACCOUNT, REGION, STACK_ID, images

from constructs_lib import BaseImage, Image, ImageVersion


def add_images(stack: cdk.Stack) -> dict[str, tuple[Image, list[ImageVersion]]]:
    """Every image and its versions, as a team publishing its custom images would write them."""
    added = {}
    for spec in images():
        image = Image(stack, spec.id, image_name=spec.image_name, display_name=spec.display_name)
        versions = [
            image.add_version(
                version.id,
                base_image=BaseImage.from_deep_learning_container(version.repository, version.tag),
                alias=version.alias,
                aliases=version.aliases,
                **version.props,
            )
            for version in spec.versions
        ]
        added[spec.id] = (image, versions)
    return added


def build(app: cdk.App) -> cdk.Stack:
    """One stack holding every image."""
    stack = cdk.Stack(app, STACK_ID, env=cdk.Environment(account=ACCOUNT, region=REGION))
    add_images(stack)
    return stack


if __name__ == "__main__":
    application = cdk.App()
    build(application)
    application.synth()
