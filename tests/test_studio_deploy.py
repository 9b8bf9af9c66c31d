"""A whole deploy of Studio attachments to existing targets, through the synthesized template.

The app is synthesized; its Studio custom resources are resolved and sent to the real handler
(``lambda/studio_custom_images/index.py``) as CloudFormation would (``deploy_sim``): Create for each, an
Update of the resources whose properties a second version of the app changed (one pin moved from
version 1 to version 2, one attachment removed), then Delete. Behind the handler, a stateful SageMaker
that validates every request against botocore's model. The issue's floor: one Update* call per target
for each of the three, and a delete that leaves only the entries someone else wrote.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import deploy_sim
import pytest
from deploy_sim import Deployer, FakeSageMaker, ParameterStore, catalog_of, target_key
from moto import mock_aws

from constructs_lib import (
    AppImageConfig,
    BaseImage,
    ContainerConfig,
    FileSystemConfig,
    Image,
    KernelGatewayConfig,
    KernelSpec,
)

HANDLER = Path(__file__).resolve().parents[1] / "lambda" / "studio_custom_images"
DOMAIN = "d-deploytest01"
PROFILE = "alice"
ROLE = "arn:aws:iam::123456789012:role/studio-execution"
SPEC = {"InstanceType": "ml.t3.medium"}
# What someone else listed on the same targets, which the deploy must keep.
THEIRS = {"ImageName": "their-image", "AppImageConfigName": "their-config", "ImageVersionNumber": 4}
THEIR_KERNEL = {"ImageName": "their-kernel", "AppImageConfigName": "their-kernel-config"}
DOMAIN_KEY = target_key(DOMAIN)
PROFILE_KEY = target_key(DOMAIN, "user-profile", PROFILE)


def synth(tmp_path: Path, *, version: int) -> dict[str, Any]:
    """The app's template; ``version=2`` moves the pin of ``Lab`` to V2 and removes ``RShared``."""
    app = cdk.App(outdir=str(tmp_path / f"cdk.out.{version}"))
    stack = cdk.Stack(app, "StudioDeploy", env=cdk.Environment(account="123456789012", region="us-east-1"))
    base = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team:{}"
    py = Image(stack, "Py", image_name="team-py")
    v1 = py.add_version("V1", base_image=BaseImage.from_uri(base.format("py-1")))
    v2 = py.add_version("V2", base_image=BaseImage.from_uri(base.format("py-2")))
    r = Image(stack, "R", image_name="team-r")
    r.add_version("V1", base_image=BaseImage.from_uri(base.format("r-1")))
    lab = AppImageConfig(stack, "Lab", jupyter_lab=ContainerConfig(environment={"TEAM": "ml"}))
    kernel = AppImageConfig(
        stack,
        "Kernel",
        kernel_gateway=KernelGatewayConfig(
            kernel_specs=[KernelSpec(name="python3", display_name="Team Python")],
            file_system=FileSystemConfig(
                mount_path="/home/sagemaker-user", default_uid=1000, default_gid=100
            ),
        ),
    )
    # The domain: DefaultUserSettings (a pinned version that moves, an unpinned one) and
    # DefaultSpaceSettings (a version number, removed in version 2; a pinned version).
    py.attach_to_studio("Lab", app_image_config=lab, version=v1 if version == 1 else v2, domain=DOMAIN)
    py.attach_to_studio("Kernel", app_image_config=kernel, domain=DOMAIN)
    if version == 1:
        r.attach_to_studio(
            "RShared", app_image_config=lab, version=1, domain=DOMAIN, default_space_settings=True
        )
    py.attach_to_studio(
        "SharedKernel", app_image_config=kernel, version=v2, domain=DOMAIN, default_space_settings=True
    )
    # An existing user profile: unpinned, and a version number.
    r.attach_to_studio("AliceLab", app_image_config=lab, domain=DOMAIN, user_profile=PROFILE)
    py.attach_to_studio(
        "AliceKernel", app_image_config=kernel, version=2, domain=DOMAIN, user_profile=PROFILE
    )
    return dict(app.synth().get_stack_by_name("StudioDeploy").template)


@pytest.fixture
def parameter_store() -> Iterator[ParameterStore]:
    """SSM Parameter Store, where the function keeps what each stack declared (moto's)."""
    with mock_aws():
        yield ParameterStore()


def listed(state: dict[str, Any], settings: str, app: str) -> list[dict[str, Any]]:
    return list(state.get(settings, {}).get(f"{app}AppSettings", {}).get("CustomImages", []))


def test_deploy_update_delete_make_one_update_call_per_target(
    tmp_path: Path, parameter_store: ParameterStore
) -> None:
    first, second = synth(tmp_path, version=1), synth(tmp_path, version=2)
    catalog = catalog_of(first, second)  # the images, versions and configs the app creates
    # The configs' physical names (generated from the stack and path), by app type.
    configs = {app_type: name for name, app_type in catalog.configs.items()}
    lab_config, kernel_config = configs["JupyterLab"], configs["KernelGateway"]
    catalog.images.update({"their-image": {4}, "their-kernel": {1}})
    catalog.configs.update({"their-config": "JupyterLab", "their-kernel-config": "KernelGateway"})
    sagemaker = FakeSageMaker(catalog)
    sagemaker.add(
        DOMAIN,
        DefaultUserSettings={
            "ExecutionRole": ROLE,
            "JupyterLabAppSettings": {"DefaultResourceSpec": SPEC, "CustomImages": [THEIRS]},
        },
        DefaultSpaceSettings={"ExecutionRole": ROLE},
    )
    sagemaker.add(
        DOMAIN,
        "user-profile",
        PROFILE,
        UserSettings={"KernelGatewayAppSettings": {"CustomImages": [THEIR_KERNEL]}},
    )
    deployer = Deployer(deploy_sim.load_handler(HANDLER), sagemaker, ssm=parameter_store)

    created = deployer.create(first)
    domain, profile = sagemaker.settings(DOMAIN_KEY), sagemaker.settings(PROFILE_KEY)
    assert listed(domain, "DefaultUserSettings", "JupyterLab") == [
        THEIRS,
        {"ImageName": "team-py", "AppImageConfigName": lab_config, "ImageVersionNumber": 1},
    ]
    assert listed(domain, "DefaultUserSettings", "KernelGateway") == [
        {"ImageName": "team-py", "AppImageConfigName": kernel_config}
    ]
    assert listed(domain, "DefaultSpaceSettings", "JupyterLab") == [
        {"ImageName": "team-r", "AppImageConfigName": lab_config, "ImageVersionNumber": 1}
    ]
    assert listed(domain, "DefaultSpaceSettings", "KernelGateway") == [
        {"ImageName": "team-py", "AppImageConfigName": kernel_config, "ImageVersionNumber": 2}
    ]
    assert listed(profile, "UserSettings", "JupyterLab") == [
        {"ImageName": "team-r", "AppImageConfigName": lab_config}
    ]
    assert listed(profile, "UserSettings", "KernelGateway") == [
        THEIR_KERNEL,
        {"ImageName": "team-py", "AppImageConfigName": kernel_config, "ImageVersionNumber": 2},
    ]
    assert domain["DefaultUserSettings"]["ExecutionRole"] == ROLE
    assert domain["DefaultUserSettings"]["JupyterLabAppSettings"]["DefaultResourceSpec"] == SPEC

    updated = deployer.update(second)
    domain = sagemaker.settings(DOMAIN_KEY)
    assert listed(domain, "DefaultUserSettings", "JupyterLab") == [
        THEIRS,
        {"ImageName": "team-py", "AppImageConfigName": lab_config, "ImageVersionNumber": 2},
    ]
    assert listed(domain, "DefaultSpaceSettings", "JupyterLab") == []
    assert sagemaker.settings(PROFILE_KEY) == profile

    deleted = deployer.delete()
    domain, profile = sagemaker.settings(DOMAIN_KEY), sagemaker.settings(PROFILE_KEY)
    ours = {"team-py", "team-r"}
    everything = [
        image
        for state in (domain, profile)
        for settings in state.values()
        for app in settings.values()
        if isinstance(app, dict)
        for image in app.get("CustomImages", [])
    ]
    assert [image for image in everything if image["ImageName"] in ours] == []
    assert listed(domain, "DefaultUserSettings", "JupyterLab") == [THEIRS]
    assert listed(profile, "UserSettings", "KernelGateway") == [THEIR_KERNEL]
    assert domain["DefaultUserSettings"]["ExecutionRole"] == ROLE
    assert domain["DefaultUserSettings"]["JupyterLabAppSettings"]["DefaultResourceSpec"] == SPEC

    # No write ever carried an execution role (that would need iam:PassRole).
    writes = [params for name, params in sagemaker.calls if name.startswith("Update")]
    assert all(
        "ExecutionRole" not in settings
        for params in writes
        for settings in params.values()
        if isinstance(settings, dict)
    )

    # The floor: one Update* call per target per deploy, one invocation per target.
    figures = {
        phase: (result.invocations, dict(result.updates))
        for phase, result in (("create", created), ("update", updated), ("delete", deleted))
    }
    assert figures == {
        "create": (2, {DOMAIN_KEY: 1, PROFILE_KEY: 1}),
        "update": (1, {DOMAIN_KEY: 1}),
        "delete": (2, {DOMAIN_KEY: 1, PROFILE_KEY: 1}),
    }
