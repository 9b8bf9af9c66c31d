"""The app the upgrade tests deploy: synthesized with 0.2.0 and 0.3.0 (``make_templates.py``, into the
JSON files beside this one) and with this checkout's library (``tests/test_studio_ledger_deploy.py``).

Only the API every version has. ``removed=True`` is the app as changed in the deploy that upgrades the
library: the attachment ``RLab`` (``upgrade-r`` in the domain's DefaultUserSettings, JupyterLab) is gone.
"""

from __future__ import annotations

import aws_cdk as cdk

from constructs_lib import (
    AppImageConfig,
    BaseImage,
    ContainerConfig,
    FileSystemConfig,
    Image,
    KernelGatewayConfig,
    KernelSpec,
)

STACK = "StudioUpgrade"
DOMAIN = "d-upgradetest01"
PROFILE = "alice"
LAB, KERNEL = "upgrade-lab", "upgrade-kernel"
REMOVED = "RLab"


def build(app: cdk.App, *, removed: bool = False) -> cdk.Stack:
    stack = cdk.Stack(app, STACK, env=cdk.Environment(account="123456789012", region="us-east-1"))
    base = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team:{}"
    py = Image(stack, "Py", image_name="upgrade-py")
    v1 = py.add_version("V1", base_image=BaseImage.from_uri(base.format("py-1")))
    v2 = py.add_version("V2", base_image=BaseImage.from_uri(base.format("py-2")))
    r = Image(stack, "R", image_name="upgrade-r")
    r.add_version("V1", base_image=BaseImage.from_uri(base.format("r-1")))
    lab = AppImageConfig(
        stack, "Lab", app_image_config_name=LAB, jupyter_lab=ContainerConfig(environment={"TEAM": "ml"})
    )
    kernel = AppImageConfig(
        stack,
        "Kernel",
        app_image_config_name=KERNEL,
        kernel_gateway=KernelGatewayConfig(
            kernel_specs=[KernelSpec(name="python3", display_name="Team Python")],
            file_system=FileSystemConfig(
                mount_path="/home/sagemaker-user", default_uid=1000, default_gid=100
            ),
        ),
    )
    # The domain: two entries in DefaultUserSettings' JupyterLab (one removed with the upgrade), one in
    # its KernelGateway, one in DefaultSpaceSettings; the user profile: one.
    py.attach_to_studio("Lab", app_image_config=lab, version=v1, domain=DOMAIN)
    if not removed:
        r.attach_to_studio(REMOVED, app_image_config=lab, version=1, domain=DOMAIN)
    py.attach_to_studio("Kernel", app_image_config=kernel, domain=DOMAIN)
    py.attach_to_studio(
        "SharedKernel", app_image_config=kernel, version=v2, domain=DOMAIN, default_space_settings=True
    )
    r.attach_to_studio("AliceLab", app_image_config=lab, domain=DOMAIN, user_profile=PROFILE)
    return stack
