"""Studio entries that stay (issue 15): whole deploys through synthesized templates, with the ledger.

Each test synthesizes one or more apps with the library and plays CloudFormation for their Studio
resources (``deploy_sim``): the real handler, a stateful SageMaker validated by botocore's model, and
moto's SSM Parameter Store (where the function records what each stack declared). Several stacks and
apps deploy against one account (one fake, one store), each with its own stack id. The scheduled
reconciliation is run as EventBridge would: the rule's ``Input`` resolved and sent to the function.

What must hold: an entry leaves a target only when no stack still declares it; what another writer
dropped comes back at the next scheduled run (one Update per target, none when nothing is missing, never
a removal); two stacks declaring one key differently fail the later deploy, naming the first stack; an
upgrade from 0.2.0 or 0.3.0 detaches only what the upgrading deploy removed; and the deploy still makes
one Update per target.
"""

from __future__ import annotations

import copy
import importlib.util
import itertools
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import aws_cdk as cdk
import deploy_sim
import pytest
from aws_cdk import aws_sagemaker as sm
from deploy_sim import (
    ACCOUNT,
    REGION,
    STUDIO_TYPE,
    Catalog,
    Deployer,
    DeployFailed,
    FakeSageMaker,
    ParameterStore,
    Phase,
    Resolver,
    catalog_of,
    studio_properties,
    target_key,
)
from moto import mock_aws

from constructs_lib import AppImageConfig, AppType, Image

ROOT = Path(__file__).resolve().parents[1]
# A copy of the function's folders may stand in (to check that these tests catch a broken handler).
HANDLER = Path(os.environ.get("DEPLOY_SIM_STUDIO_HANDLER", ROOT / "lambda" / "studio_custom_images"))
UPGRADE = ROOT / "tests" / "data" / "upgrade"
LEDGER = "/sagemaker-image-constructs/studio"
ENV = cdk.Environment(account=ACCOUNT, region=REGION)
DOMAIN = "d-ledgertest01"
PROFILE = "alice"
SPACE = "team-space"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/studio-execution"
LAB, KERNEL, OTHER_LAB = "team-lab", "team-kernel", "other-lab"
CONFIGS = {LAB: AppType.JUPYTER_LAB, KERNEL: AppType.KERNEL_GATEWAY, OTHER_LAB: AppType.JUPYTER_LAB}
# What someone else listed on the targets, which every deploy and run must keep.
THEIRS = {"ImageName": "their-image", "AppImageConfigName": "their-config", "ImageVersionNumber": 4}
THEIRS_TOO = {"ImageName": "their-other", "AppImageConfigName": "their-config"}
THEIR_KERNEL = {"ImageName": "their-other", "AppImageConfigName": "their-kernel-config"}
DOMAIN_KEY = target_key(DOMAIN)
PROFILE_KEY = target_key(DOMAIN, "user-profile", PROFILE)
SPACE_KEY = target_key(DOMAIN, "space", SPACE)
_outdirs = itertools.count(1)


# --- apps -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attach:
    """One attachment of a test app: an image (imported by name) listed with a config (imported by name)."""

    id: str
    image: str
    config: str = LAB
    version: int | None = None
    profile: str | None = None
    space: str | None = None
    space_defaults: bool = False
    on_change: bool = False  # reconcile_on_change: also the rule on CloudTrail's record of a write


LAB_PY = Attach("LabPy", "team-py", LAB, 1)  # DefaultUserSettings, JupyterLab
KERNEL_PY = Attach("KernelPy", "team-py", KERNEL)  # DefaultUserSettings, KernelGateway
SHARED_R = Attach("SharedR", "team-r", LAB, 1, space_defaults=True)  # DefaultSpaceSettings, JupyterLab
ALICE_R = Attach("AliceR", "team-r", LAB, profile=PROFILE)  # the user profile, JupyterLab
SPACE_PY = Attach("SpacePy", "team-py", KERNEL, 2, space=SPACE)  # the space, KernelGateway


def synth(
    tmp_path: Path, stack_name: str, attachments: list[Attach], *, domain: str = DOMAIN
) -> dict[str, Any]:
    """One stack of one app: its images and configs imported by name, each attachment on ``domain``."""
    app = cdk.App(outdir=str(tmp_path / f"cdk.out.{stack_name}.{next(_outdirs)}"))
    stack = cdk.Stack(app, stack_name, env=ENV)
    images: dict[str, Any] = {}
    configs: dict[str, Any] = {}
    for a in attachments:
        if a.image not in images:
            images[a.image] = Image.from_image_name(stack, f"Image{len(images)}", a.image)
        if a.config not in configs:
            configs[a.config] = AppImageConfig.from_app_image_config_name(
                stack, f"Config{len(configs)}", a.config, CONFIGS[a.config]
            )
        images[a.image].attach_to_studio(
            a.id,
            app_image_config=configs[a.config],
            version=a.version,
            domain=domain,
            user_profile=a.profile,
            space=a.space,
            default_space_settings=a.space_defaults,
            reconcile_on_change=a.on_change,
        )
    return dict(app.synth().get_stack_by_name(stack_name).template)


def catalog(images: int = 0) -> Catalog:
    """The account's images (versions 1-3 each) and configs; ``images`` more named ``img-<n>``."""
    names = ["team-py", "team-r", "their-image", "their-other", *(f"img-{n:03d}" for n in range(images))]
    found = Catalog(images={name: {1, 2, 3, 4} for name in names})
    found.configs = {name: str(app_type) for name, app_type in CONFIGS.items()}
    found.configs.update({"their-config": "JupyterLab", "their-kernel-config": "KernelGateway"})
    return found


def account(images: int = 0, *, theirs: bool = True) -> FakeSageMaker:
    """The existing domain (with their entry in DefaultUserSettings' JupyterLab), user profile and space."""
    fake = FakeSageMaker(catalog(images))
    lab = {"CustomImages": [THEIRS]} if theirs else {}
    fake.add(
        DOMAIN,
        DefaultUserSettings={"ExecutionRole": ROLE, "JupyterLabAppSettings": lab},
        DefaultSpaceSettings={"ExecutionRole": ROLE},
    )
    fake.add(DOMAIN, "user-profile", PROFILE, UserSettings={"ExecutionRole": ROLE})
    kernels = {"KernelGatewayAppSettings": {"CustomImages": [THEIR_KERNEL]}}
    fake.add(DOMAIN, "space", SPACE, SpaceSettings=kernels)
    return fake


@pytest.fixture
def store() -> Iterator[ParameterStore]:
    """One account's SSM Parameter Store (moto's); every stack's function writes its ledger there."""
    with mock_aws():
        yield ParameterStore()


@pytest.fixture
def handler() -> ModuleType:
    return deploy_sim.load_handler(HANDLER)


# --- what a target lists, what the ledger holds -----------------------------------------------------------


def listed(fake: FakeSageMaker, key: str, settings: str, app: str) -> list[dict[str, Any]]:
    return list(fake.targets[key].get(settings, {}).get(f"{app}AppSettings", {}).get("CustomImages", []))


def entry(image: str, config: str = LAB, version: int | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"ImageName": image, "AppImageConfigName": config}
    if version is not None:
        found["ImageVersionNumber"] = version
    return found


def ours(fake: FakeSageMaker) -> set[tuple[str, str, str, str]]:
    """Every listed entry of the test apps' images: (target, settings, app, image)."""
    return {
        (key, settings, app.removesuffix("AppSettings"), image["ImageName"])
        for key, state in fake.targets.items()
        for settings, members in state.items()
        if isinstance(members, dict)
        for app, value in members.items()
        if isinstance(value, dict)
        for image in value.get("CustomImages", [])
        if image["ImageName"].startswith(("team-", "img-", "upgrade-"))
    }


def records(store: ParameterStore) -> dict[tuple[str, str], list[str]]:
    """The ledger: (physical id, owner hash) -> the record's parts, in order."""
    parts: dict[tuple[str, str], dict[int, str]] = {}
    for name, value in store.parameters(LEDGER).items():
        *physical, owner, number = name.removeprefix(LEDGER + "/").split("/")
        parts.setdefault(("/".join(physical), owner), {})[int(number)] = value
    return {record: [found[n] for n in sorted(found)] for record, found in parts.items()}


def record_text(parts: list[str]) -> str:
    text = "".join(parts)
    json.loads(text)  # a record is JSON, split over its parameters
    return text


def settle(fake: FakeSageMaker, key: str) -> None:
    """Describe until the target is InService again (after a write made outside the deploy)."""
    kind, domain, *name = key.split("/")
    while fake.targets[key]["Status"] != "InService":
        if kind == "domain":
            fake.client.describe_domain(DomainId=domain)
        elif kind == "space":
            fake.client.describe_space(DomainId=domain, SpaceName=name[0])
        else:
            fake.client.describe_user_profile(DomainId=domain, UserProfileName=name[0])


def someone_writes(fake: FakeSageMaker, key: str, **settings: Any) -> None:
    """Another writer (a person, a script) updates the target with its own lists, through the API."""
    kind, domain, *name = key.split("/")
    if kind == "domain":
        fake.client.update_domain(DomainId=domain, **settings)
    elif kind == "space":
        fake.client.update_space(DomainId=domain, SpaceName=name[0], **settings)
    else:
        fake.client.update_user_profile(DomainId=domain, UserProfileName=name[0], **settings)
    settle(fake, key)


def quiet_run(deployer: Deployer) -> Phase:
    """A scheduled run with nothing missing: every listed target looked at, nothing written or failed."""
    run = deployer.reconcile()
    assert sum(run.updates.values()) == 0, run.as_dict()
    assert not any(result.get("Failed") for result in run.results), run.results
    described = sum(count for name, count in run.calls.items() if name.startswith("Describe"))
    listed_targets = sum(len(event["Targets"]) for event in deployer.reconcile_events())
    assert described >= listed_targets, run.as_dict()
    return run


def one_update_per_target(phase: Phase, targets: set[str]) -> None:
    assert dict(phase.updates) == dict.fromkeys(targets, 1), phase.as_dict()


def ssm_within_bound(
    phase: Phase, before: dict[tuple[str, str], list[str]], store: ParameterStore
) -> list[int]:
    """Each invocation's SSM calls: at most 2 plus one per part of the largest record of its target
    (before or after the phase). Returns the counts."""
    after = records(store)
    counts = []
    for call in phase.invocation_calls:
        target = call["target"]
        parts = max(
            (len(found) for (physical, _), found in (*before.items(), *after.items()) if physical == target),
            default=0,
        )
        total = sum(call["ssm"].values())
        assert total <= 2 + parts, f"{call['request']} {call['resource']} on {target}: {dict(call['ssm'])}"
        counts.append(total)
    return counts


# --- another writer, then the scheduled run ---------------------------------------------------------------


def test_a_scheduled_run_puts_back_what_another_writer_dropped_and_keeps_theirs(
    tmp_path: Path, store: ParameterStore, handler: ModuleType
) -> None:
    template = synth(tmp_path, "TeamOne", [LAB_PY, KERNEL_PY, SHARED_R, ALICE_R])
    fake = account()
    deployer = Deployer(handler, fake, stack_name="TeamOne", ssm=store)
    deployer.create(template)
    profile = fake.settings(PROFILE_KEY)
    assert listed(fake, DOMAIN_KEY, "DefaultUserSettings", "JupyterLab") == [THEIRS, entry("team-py", LAB, 1)]

    # The domain's owner writes its own lists: our JupyterLab entries are gone from both settings.
    someone_writes(
        fake,
        DOMAIN_KEY,
        DefaultUserSettings={"JupyterLabAppSettings": {"CustomImages": [THEIRS, THEIRS_TOO]}},
        DefaultSpaceSettings={"JupyterLabAppSettings": {"CustomImages": []}},
    )
    run = deployer.reconcile()
    assert dict(run.updates) == {DOMAIN_KEY: 1}, run.as_dict()
    assert all(isinstance(result, dict) for result in run.results), run.results
    assert listed(fake, DOMAIN_KEY, "DefaultUserSettings", "JupyterLab") == [
        THEIRS,
        THEIRS_TOO,
        entry("team-py", LAB, 1),
    ]
    assert listed(fake, DOMAIN_KEY, "DefaultSpaceSettings", "JupyterLab") == [entry("team-r", LAB, 1)]
    assert listed(fake, DOMAIN_KEY, "DefaultUserSettings", "KernelGateway") == [entry("team-py", KERNEL)]
    assert fake.settings(PROFILE_KEY) == profile
    assert fake.targets[DOMAIN_KEY]["DefaultUserSettings"]["ExecutionRole"] == ROLE

    # Nothing missing: the next run writes nothing.
    again = quiet_run(deployer)
    assert again.invocations == run.invocations


def test_a_scheduled_run_after_cloudformation_rewrote_a_domain_of_another_stack(
    tmp_path: Path, store: ParameterStore, handler: ModuleType
) -> None:
    """The domain is a CfnDomain of the app's platform stack; the attachment's own stack carries the
    per-target resource (the domain id imported), and the platform's next domain update, which sends
    the template's whole DefaultUserSettings, drops our entry until the scheduled run."""
    app = cdk.App(outdir=str(tmp_path / "cdk.out.platform"))
    platform = cdk.Stack(app, "Platform", env=ENV)
    d = sm.CfnDomain
    domain = d(
        platform,
        "Domain",
        auth_mode="IAM",
        domain_name="studio",
        subnet_ids=["subnet-0123"],
        vpc_id="vpc-0123",
        default_user_settings=d.UserSettingsProperty(
            execution_role=ROLE,
            jupyter_lab_app_settings=d.JupyterLabAppSettingsProperty(
                custom_images=[
                    d.CustomImageProperty(
                        image_name=THEIRS["ImageName"],
                        app_image_config_name=THEIRS["AppImageConfigName"],
                        image_version_number=THEIRS["ImageVersionNumber"],
                    )
                ]
            ),
        ),
    )
    team = cdk.Stack(app, "Team", env=ENV)
    image = Image.from_image_name(team, "Py", "team-py")
    lab = AppImageConfig.from_app_image_config_name(team, "Lab", LAB, AppType.JUPYTER_LAB)
    image.attach_to_studio("Lab", app_image_config=lab, version=1, domain=domain)
    assembly = app.synth()
    platform_template = dict(assembly.get_stack_by_name("Platform").template)
    team_template = dict(assembly.get_stack_by_name("Team").template)

    # Not merged into the platform's domain: the team's stack has the resource, the id by import.
    assert studio_properties(platform_template) == {}
    assert "Fn::ImportValue" in json.dumps(team_template)

    exports: dict[str, Any] = {}
    fake = FakeSageMaker(catalog())
    platform_deployer = Deployer(handler, fake, stack_name="Platform", ssm=store, exports=exports)
    platform_deployer.create(platform_template)
    resolver = Resolver(platform_template, stack_name="Platform")
    (rid,) = (
        r for r, res in platform_template["Resources"].items() if res["Type"] == "AWS::SageMaker::Domain"
    )
    domain_id = resolver.get_att(rid, "DomainId")
    cfn_settings = resolver.resolve(platform_template["Resources"][rid]["Properties"])
    key = target_key(domain_id)
    fake.add(domain_id, DefaultUserSettings=copy.deepcopy(cfn_settings["DefaultUserSettings"]))

    deployer = Deployer(handler, fake, stack_name="Team", ssm=store, exports=exports)
    one_update_per_target(deployer.create(team_template), {key})
    assert listed(fake, key, "DefaultUserSettings", "JupyterLab") == [THEIRS, entry("team-py", LAB, 1)]

    # CloudFormation's Domain update: the template's whole DefaultUserSettings, no merge.
    someone_writes(fake, key, DefaultUserSettings=cfn_settings["DefaultUserSettings"])
    assert listed(fake, key, "DefaultUserSettings", "JupyterLab") == [THEIRS]
    run = deployer.reconcile()
    assert dict(run.updates) == {key: 1}, run.as_dict()
    assert listed(fake, key, "DefaultUserSettings", "JupyterLab") == [THEIRS, entry("team-py", LAB, 1)]
    quiet_run(deployer)


def test_a_scheduled_run_after_the_stack_was_deleted_writes_nothing(
    tmp_path: Path, store: ParameterStore, handler: ModuleType
) -> None:
    """TeamOne is deleted; a run of its rule already under way then finds no record of its stack and
    writes nothing, even where another writer dropped what TeamTwo (still deployed) declares there."""
    fake = account()
    deployer = Deployer(handler, fake, stack_name="TeamOne", ssm=store)
    deployer.create(synth(tmp_path, "TeamOne", [LAB_PY, KERNEL_PY, ALICE_R]))
    two = Deployer(handler, fake, stack_name="TeamTwo", ssm=store)
    two.create(synth(tmp_path, "TeamTwo", [Attach("LabR", "team-r", LAB, 1)]))
    events = deployer.reconcile_events()
    assert events, "the stack has no scheduled reconciliation"
    deployer.delete()
    assert ours(fake) == {(DOMAIN_KEY, "DefaultUserSettings", "JupyterLab", "team-r")}
    ledger = records(store)
    assert len(ledger) == 1, ledger
    someone_writes(
        fake, DOMAIN_KEY, DefaultUserSettings={"JupyterLabAppSettings": {"CustomImages": [THEIRS]}}
    )
    after = {key: fake.settings(key) for key in fake.targets}

    run = deployer.reconcile(events)
    assert sum(run.updates.values()) == 0, run.as_dict()
    assert not any(result.get("Failed") for result in run.results), run.results
    assert {key: fake.settings(key) for key in fake.targets} == after
    assert records(store) == ledger
    # TeamTwo's own run puts its entry back.
    assert dict(two.reconcile().updates) == {DOMAIN_KEY: 1}
    assert ours(fake) == {(DOMAIN_KEY, "DefaultUserSettings", "JupyterLab", "team-r")}


def test_a_scheduled_run_puts_back_only_what_its_own_stack_declared(
    tmp_path: Path, store: ParameterStore, handler: ModuleType
) -> None:
    fake = account()
    one = Deployer(handler, fake, stack_name="TeamOne", ssm=store)
    two = Deployer(handler, fake, stack_name="TeamTwo", ssm=store)
    one.create(synth(tmp_path, "TeamOne", [LAB_PY]))
    two.create(synth(tmp_path, "TeamTwo", [Attach("LabR", "team-r", LAB, 1)]))
    someone_writes(
        fake, DOMAIN_KEY, DefaultUserSettings={"JupyterLabAppSettings": {"CustomImages": [THEIRS]}}
    )

    run = two.reconcile()
    assert dict(run.updates) == {DOMAIN_KEY: 1}, run.as_dict()
    assert listed(fake, DOMAIN_KEY, "DefaultUserSettings", "JupyterLab") == [THEIRS, entry("team-r", LAB, 1)]
    run = one.reconcile()
    assert dict(run.updates) == {DOMAIN_KEY: 1}, run.as_dict()
    assert listed(fake, DOMAIN_KEY, "DefaultUserSettings", "JupyterLab") == [
        THEIRS,
        entry("team-r", LAB, 1),
        entry("team-py", LAB, 1),
    ]
    quiet_run(one)
    quiet_run(two)


def test_the_opt_in_rule_puts_back_what_another_writer_dropped_and_ignores_the_functions_own_writes(
    tmp_path: Path, store: ParameterStore, handler: ModuleType
) -> None:
    """``reconcile_on_change``: a rule on CloudTrail's record of another writer's UpdateDomain on the
    domain runs the function at once; the function's own writes match the same rule, and the runs they
    set off write nothing (no loop); another domain's update runs nothing."""
    fake = account()
    deployer = Deployer(handler, fake, stack_name="TeamOne", ssm=store)
    deployer.create(synth(tmp_path, "TeamOne", [Attach("LabPy", "team-py", LAB, 1, on_change=True), ALICE_R]))
    someone_writes(
        fake, DOMAIN_KEY, DefaultUserSettings={"JupyterLabAppSettings": {"CustomImages": [THEIRS]}}
    )
    calls_before = len(fake.calls)
    run = deployer.on_change("UpdateDomain", DomainId=DOMAIN)
    assert dict(run.updates) == {DOMAIN_KEY: 1}, run.as_dict()
    assert listed(fake, DOMAIN_KEY, "DefaultUserSettings", "JupyterLab") == [THEIRS, entry("team-py", LAB, 1)]

    own = [(name, params) for name, params in fake.calls[calls_before:] if name.startswith("Update")]
    assert own, "the run wrote nothing"
    for name, params in own:
        ids = {key: value for key, value in params.items() if not isinstance(value, dict)}
        again = deployer.on_change(name, **ids)
        assert again.invocations == 1 and sum(again.updates.values()) == 0, again.as_dict()
    assert deployer.on_change("UpdateDomain", DomainId="d-elsewhere01").invocations == 0


# --- several stacks and apps on one target ----------------------------------------------------------------


@pytest.mark.parametrize("first", ["TeamA", "TeamB"])
def test_an_attachment_moved_between_stacks_stays_listed(
    tmp_path: Path, store: ParameterStore, handler: ModuleType, first: str
) -> None:
    """``LabPy`` moves from TeamA to TeamB in one change of the app; the stacks deploy in either order."""
    before = {"TeamA": [LAB_PY, KERNEL_PY], "TeamB": [ALICE_R, SHARED_R]}
    after = {"TeamA": [KERNEL_PY], "TeamB": [ALICE_R, SHARED_R, LAB_PY]}
    fake = account()
    deployers = {name: Deployer(handler, fake, stack_name=name, ssm=store) for name in before}
    for name, attachments in before.items():
        deployers[name].create(synth(tmp_path, name, attachments))
    lab_py = (DOMAIN_KEY, "DefaultUserSettings", "JupyterLab", "team-py")
    assert lab_py in ours(fake)

    second = "TeamB" if first == "TeamA" else "TeamA"
    for name in (first, second):
        phase = deployers[name].update(synth(tmp_path, name, after[name]))
        assert all(count == 1 for count in phase.updates.values()), phase.as_dict()
        if name == "TeamB":  # once TeamB declares it, no deploy may take it away
            assert lab_py in ours(fake)
    assert listed(fake, DOMAIN_KEY, "DefaultUserSettings", "JupyterLab") == [THEIRS, entry("team-py", LAB, 1)]
    assert listed(fake, DOMAIN_KEY, "DefaultUserSettings", "KernelGateway") == [entry("team-py", KERNEL)]
    for deployer in deployers.values():
        quiet_run(deployer)

    # Both stacks go: nothing of ours stays, theirs does, and the ledger is empty.
    deployers["TeamA"].delete()
    assert lab_py in ours(fake)
    deployers["TeamB"].delete()
    assert ours(fake) == set()
    assert listed(fake, DOMAIN_KEY, "DefaultUserSettings", "JupyterLab") == [THEIRS]
    assert records(store) == {}


@pytest.mark.parametrize("deleted_first", ["One", "Two"])
def test_two_apps_declaring_one_entry_keep_it_until_both_are_deleted(
    tmp_path: Path, store: ParameterStore, handler: ModuleType, deleted_first: str
) -> None:
    fake = account()
    apps = {"One": [LAB_PY, ALICE_R], "Two": [LAB_PY, KERNEL_PY]}
    deployers = {name: Deployer(handler, fake, stack_name=f"Team{name}", ssm=store) for name in apps}
    for name, attachments in apps.items():
        deployers[name].create(synth(tmp_path, f"Team{name}", attachments))
    domain_records = [owner for physical, owner in records(store) if physical == f"{DOMAIN}/domain"]
    assert len(domain_records) == 2, records(store)

    deployers[deleted_first].delete()
    assert listed(fake, DOMAIN_KEY, "DefaultUserSettings", "JupyterLab") == [THEIRS, entry("team-py", LAB, 1)]
    left = "Two" if deleted_first == "One" else "One"
    expected = {(DOMAIN_KEY, "DefaultUserSettings", "JupyterLab", "team-py")}
    expected |= (
        {(DOMAIN_KEY, "DefaultUserSettings", "KernelGateway", "team-py")}
        if left == "Two"
        else {(PROFILE_KEY, "UserSettings", "JupyterLab", "team-r")}
    )
    assert ours(fake) == expected
    quiet_run(deployers[left])

    deployers[left].delete()
    assert ours(fake) == set()
    assert listed(fake, DOMAIN_KEY, "DefaultUserSettings", "JupyterLab") == [THEIRS]
    assert records(store) == {}


@pytest.mark.parametrize("when", ["create", "update"])
@pytest.mark.parametrize(
    "conflicting",
    [
        Attach("LabPy", "team-py", LAB, 2),  # another pin
        Attach("LabPy", "team-py", OTHER_LAB, 1),  # another config
        Attach("LabPy", "team-py", LAB),  # unpinned where the first stack pins
    ],
    ids=["pin", "config", "unpinned"],
)
def test_a_conflicting_declaration_fails_the_later_deploy_naming_the_first_stack(
    tmp_path: Path, store: ParameterStore, handler: ModuleType, conflicting: Attach, when: str
) -> None:
    """TeamTwo declares team-py in DefaultUserSettings' JupyterLab otherwise than TeamOne: its deploy
    (its stack's creation, or an update of it) fails naming TeamOne and is rolled back as CloudFormation
    does, leaving every target and record as before it."""
    fake = account()
    one = Deployer(handler, fake, stack_name="TeamOne", ssm=store)
    one.create(synth(tmp_path, "TeamOne", [LAB_PY, ALICE_R]))
    two = Deployer(handler, fake, stack_name="TeamTwo", ssm=store)
    bob = Attach("Bob", "team-py", profile=PROFILE)
    if when == "update":
        two.create(synth(tmp_path, "TeamTwo", [KERNEL_PY, bob]))
    state = {key: fake.settings(key) for key in fake.targets}
    ledger = records(store)

    with pytest.raises(DeployFailed) as failed:
        two.update(synth(tmp_path, "TeamTwo", [KERNEL_PY, conflicting, bob]))
    assert "TeamOne" in str(failed.value), str(failed.value)
    assert {key: fake.settings(key) for key in fake.targets} == state
    assert records(store) == ledger
    quiet_run(one)
    if when == "update":
        quiet_run(two)


# --- many entries: a record split over several parameters -------------------------------------------------


def test_200_entries_on_one_target_round_trip_through_a_split_record(
    tmp_path: Path, store: ParameterStore, handler: ModuleType
) -> None:
    many = [Attach(f"Img{n:03d}", f"img-{n:03d}", LAB, 1 if n % 2 else None) for n in range(200)]
    fake = account(200, theirs=False)
    deployer = Deployer(handler, fake, stack_name="Many", ssm=store)

    before = records(store)
    created = deployer.create(synth(tmp_path, "Many", many))
    one_update_per_target(created, {DOMAIN_KEY})
    wanted = [entry(a.image, LAB, a.version) for a in many]
    assert listed(fake, DOMAIN_KEY, "DefaultUserSettings", "JupyterLab") == wanted
    ledger = records(store)
    assert len(ledger) == 1, list(ledger)
    ((physical, _), parts), *_ = ledger.items()
    assert physical == f"{DOMAIN}/domain"
    assert len(parts) > 1, "200 entries fit one parameter: the split is not exercised"
    assert all(len(part) <= 4096 for part in parts)
    text = record_text(parts)
    assert all(f"img-{n:03d}" in text for n in range(200))
    figures = {"create": ssm_within_bound(created, before, store), "parts": len(parts)}

    # Another writer empties the list: one run puts all 200 back in one Update, the next writes nothing.
    someone_writes(fake, DOMAIN_KEY, DefaultUserSettings={"JupyterLabAppSettings": {"CustomImages": []}})
    run = deployer.reconcile()
    assert dict(run.updates) == {DOMAIN_KEY: 1}
    assert listed(fake, DOMAIN_KEY, "DefaultUserSettings", "JupyterLab") == wanted
    quiet_run(deployer)

    # One removed, one pin moved: one Update; the record follows.
    changed = [*many[1:-1], Attach("Img199", "img-199", LAB, 2)]
    before = records(store)
    updated = deployer.update(synth(tmp_path, "Many", changed))
    one_update_per_target(updated, {DOMAIN_KEY})
    assert listed(fake, DOMAIN_KEY, "DefaultUserSettings", "JupyterLab") == [
        entry(a.image, LAB, a.version) for a in changed
    ]
    ((_, parts),) = records(store).items()
    assert "img-000" not in record_text(parts)
    figures["update"] = ssm_within_bound(updated, before, store)

    # Down to 5 entries: the record shrinks to one part, its other parts deleted.
    few = changed[:5]
    before = records(store)
    shrunk = deployer.update(synth(tmp_path, "Many", few))
    one_update_per_target(shrunk, {DOMAIN_KEY})
    assert listed(fake, DOMAIN_KEY, "DefaultUserSettings", "JupyterLab") == [
        entry(a.image, LAB, a.version) for a in few
    ]
    ((_, parts),) = records(store).items()
    assert len(parts) == 1, parts
    assert all(a.image in record_text(parts) for a in few)
    figures["shrink"] = ssm_within_bound(shrunk, before, store)
    quiet_run(deployer)

    before = records(store)
    deleted = deployer.delete()
    one_update_per_target(deleted, {DOMAIN_KEY})
    assert ours(fake) == set()
    assert records(store) == {}
    figures["delete"] = ssm_within_bound(deleted, before, store)
    print("SSM calls per invocation, 200 entries:", figures)


def test_many_targets_are_reconciled_through_several_inputs(
    tmp_path: Path, store: ParameterStore, handler: ModuleType
) -> None:
    """80 user profiles with 63-character names: more physical ids than one rule target's Input holds
    (EventBridge: 8192 characters), so the stack lists them in several inputs; together they cover
    every target, and a run puts back only what is missing, on its own target. (100 such targets no
    longer synthesize: the ledger's grants would need more than 10 managed policies on the role.)"""
    profiles = [f"user-{n:03d}-" + "x" * 54 for n in range(80)]
    fake = account()
    for name in profiles:
        fake.add(DOMAIN, "user-profile", name, UserSettings={"ExecutionRole": ROLE})
    deployer = Deployer(handler, fake, stack_name="Crowd", ssm=store)
    crowd = [Attach(f"Lab{n}", "team-py", LAB, 1, profile=name) for n, name in enumerate(profiles)]
    created = deployer.create(synth(tmp_path, "Crowd", crowd))
    assert len(created.updates) == len(profiles) and set(created.updates.values()) == {1}
    events = deployer.reconcile_events()  # checks each Input's size, and that they list every target
    assert len(events) >= 2, [len(json.dumps(event)) for event in events]
    quiet_run(deployer)

    last = target_key(DOMAIN, "user-profile", profiles[-1])
    someone_writes(fake, last, UserSettings={"JupyterLabAppSettings": {"CustomImages": []}})
    run = deployer.reconcile()
    assert dict(run.updates) == {last: 1}, run.as_dict()
    assert listed(fake, last, "UserSettings", "JupyterLab") == [entry("team-py", LAB, 1)]


# --- the floor: calls per target ----------------------------------------------------------------------------


def test_calls_per_target_create_update_delete_and_a_run_with_nothing_missing(
    tmp_path: Path, store: ParameterStore, handler: ModuleType
) -> None:
    fake = account()
    deployer = Deployer(handler, fake, stack_name="TeamOne", ssm=store)
    figures: dict[str, Any] = {}

    before = records(store)
    created = deployer.create(synth(tmp_path, "TeamOne", [LAB_PY, KERNEL_PY, SHARED_R, ALICE_R, SPACE_PY]))
    one_update_per_target(created, {DOMAIN_KEY, PROFILE_KEY, SPACE_KEY})
    figures["create"] = (dict(created.updates), ssm_within_bound(created, before, store))
    assert {physical for physical, _ in records(store)} == {
        f"{DOMAIN}/domain",
        f"{DOMAIN}/user-profile/{PROFILE}",
        f"{DOMAIN}/space/{SPACE}",
    }

    run = quiet_run(deployer)
    assert run.invocations >= 1
    figures["reconcile"] = (dict(run.updates), [sum(c["sagemaker"].values()) for c in run.invocation_calls])
    figures["reconcile ssm"] = [sum(c["ssm"].values()) for c in run.invocation_calls]

    before = records(store)
    updated = deployer.update(
        synth(tmp_path, "TeamOne", [Attach("LabPy", "team-py", LAB, 2), KERNEL_PY, ALICE_R, SPACE_PY])
    )
    one_update_per_target(updated, {DOMAIN_KEY})
    figures["update"] = (dict(updated.updates), ssm_within_bound(updated, before, store))

    before = records(store)
    deleted = deployer.delete()
    one_update_per_target(deleted, {DOMAIN_KEY, PROFILE_KEY, SPACE_KEY})
    figures["delete"] = (dict(deleted.updates), ssm_within_bound(deleted, before, store))
    assert records(store) == {}
    assert ours(fake) == set()
    print("updates per target and SSM calls per invocation:", figures)


# --- upgrades -----------------------------------------------------------------------------------------------


def upgrade_app() -> ModuleType:
    """``tests/data/upgrade/upgrade_app.py``: the app the fixtures were synthesized from."""
    if "upgrade_app" not in sys.modules:
        spec = importlib.util.spec_from_file_location("upgrade_app", UPGRADE / "upgrade_app.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["upgrade_app"] = module
    return sys.modules["upgrade_app"]


def declared(properties: dict[str, dict[str, Any]]) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """What the per-target resources declare: (target key, settings, app type) -> the entries."""
    found: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for props in properties.values():
        (domain, kind, name), *_ = deploy_sim.targets_of({"": props})
        key = target_key(domain, kind, name)
        for item in props.get("CustomImages", []):
            version = item.get("ImageVersionNumber")
            found.setdefault((key, item["Settings"], item["AppType"]), []).append(
                entry(
                    item["ImageName"], item["AppImageConfigName"], None if version is None else int(version)
                )
            )
    return found


@pytest.mark.parametrize("version", ["0.2.0", "0.3.0"])
def test_an_upgrade_detaches_only_the_attachment_removed_in_its_deploy(
    tmp_path: Path, store: ParameterStore, handler: ModuleType, version: str
) -> None:
    app_module = upgrade_app()
    old_template = json.loads((UPGRADE / version / "template.json").read_text())
    app = cdk.App(outdir=str(tmp_path / "cdk.out.upgraded"))
    app_module.build(app, removed=True)
    new_template = dict(app.synth().get_stack_by_name(app_module.STACK).template)
    new = studio_properties(new_template)
    assert {props.get("LedgerVersion") for props in new.values()} == {"1"}, new
    assert {new_template["Resources"][rid]["Type"] for rid in new} == {STUDIO_TYPE}

    domain, profile = app_module.DOMAIN, app_module.PROFILE
    domain_key, profile_key = target_key(domain), target_key(domain, "user-profile", profile)
    fake = FakeSageMaker(catalog_of(old_template, new_template, catalog=catalog()))
    fake.add(
        domain,
        DefaultUserSettings={"ExecutionRole": ROLE, "JupyterLabAppSettings": {"CustomImages": [THEIRS]}},
        DefaultSpaceSettings={"ExecutionRole": ROLE},
    )
    fake.add(domain, "user-profile", profile, UserSettings={"ExecutionRole": ROLE})

    old_handler = deploy_sim.load_handler(
        UPGRADE / version / "lambda" / "studio_custom_images", isolated=True
    )
    deployer = Deployer(old_handler, fake, stack_name=app_module.STACK, ssm=store)
    deployer.create(old_template)
    removed = (domain_key, "DefaultUserSettings", "JupyterLab", "upgrade-r")
    everything = ours(fake)
    assert removed in everything
    assert records(store) == {}  # the old function kept no ledger

    # The upgrade: the function's code first, then the stack's resources.
    deployer.handler = handler
    calls_before = len(fake.calls)
    phase = deployer.update(new_template)
    if version == "0.3.0":  # every per-target resource changes (LedgerVersion): an Update each
        assert sorted(phase.requests) == sorted(("Update", rid) for rid in new), phase.requests
    else:  # the per-target resources are new; the per-attachment ones go in the clean-up
        assert [r for r, _ in phase.requests] == ["Create"] * len(new) + ["Delete"] * 5, phase.requests
    assert all(count == 1 for count in phase.updates.values()), phase.as_dict()

    # Only the removed attachment is detached; theirs stays; records exist for both targets.
    assert ours(fake) == everything - {removed}
    assert listed(fake, domain_key, "DefaultUserSettings", "JupyterLab") == [
        THEIRS,
        entry("upgrade-py", app_module.LAB, 1),
    ]
    ledger = records(store)
    assert {physical for physical, _ in ledger} == {f"{domain}/domain", f"{domain}/user-profile/{profile}"}
    for (physical, _), parts in ledger.items():  # each record declares what the new template does there
        text = record_text(parts)
        props = next(p for p in new.values() if deploy_sim.physical_id_of(p) == physical)
        assert all(item["ImageName"] in text for item in props["CustomImages"]), text
        # upgrade-r stays declared on the profile only (RLab, on the domain, was removed)
        assert ("upgrade-r" in text) == physical.endswith(profile), text
    # No write of the upgrade ever left out an entry the new template declares in the list it carried.
    wanted = declared(new)
    for name, params in fake.calls[calls_before:]:
        if not name.startswith("Update"):
            continue
        kind = {"Domain": "domain", "UserProfile": "user-profile"}[name.removeprefix("Update")]
        key = target_key(domain, kind, params.get("UserProfileName"))
        for settings, members in params.items():
            for app_settings, value in members.items() if isinstance(members, dict) else ():
                written = value.get("CustomImages", [])
                for want in wanted.get((key, settings, app_settings.removesuffix("AppSettings")), []):
                    assert want in written, f"{name} {settings}.{app_settings} dropped {want}: {written}"

    # From now on as any stack of this version: nothing missing, nothing written; the delete cleans up.
    quiet_run(deployer)
    deployer.delete()
    assert ours(fake) == set()
    assert records(store) == {}
    assert listed(fake, domain_key, "DefaultUserSettings", "JupyterLab") == [THEIRS]
    assert listed(fake, profile_key, "UserSettings", "JupyterLab") == []
    assert fake.targets[profile_key]["UserSettings"]["ExecutionRole"] == ROLE
