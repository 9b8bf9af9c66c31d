"""ImageVersion: every CfnImageVersion property, attributes, the version chain, aliases and imports."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from check_resources import depends_on

from constructs_lib import (
    BaseImage,
    Image,
    ImageVersion,
    JobType,
    Processor,
    ValidationError,
    VendorGuidance,
)

DLC = BaseImage.from_deep_learning_container("pytorch-training", "1.8.1-gpu-py36-cu111-ubuntu18.04")


def versions_of(template: Template) -> dict[str, dict]:  # type: ignore[type-arg]
    return template.find_resources("AWS::SageMaker::ImageVersion")


def test_every_property_reaches_the_template(stack: cdk.Stack) -> None:
    image = Image(stack, "Image", image_name="my-image")
    image.add_version(
        "V1",
        base_image=BaseImage.from_uri("111122223333.dkr.ecr.us-east-1.amazonaws.com/base:1"),
        alias="v1",
        horovod=True,
        job_type=JobType.TRAINING,
        ml_framework="PyTorch 1.8",
        processor=Processor.GPU,
        programming_lang="Python3.6",
        release_notes="PyTorch 1.8.1 training image version",
        vendor_guidance=VendorGuidance.STABLE,
    )
    (version,) = versions_of(Template.from_stack(stack)).values()
    assert version["Properties"] == {
        "ImageName": "my-image",
        "BaseImage": "111122223333.dkr.ecr.us-east-1.amazonaws.com/base:1",
        "Alias": "v1",
        "Horovod": True,
        "JobType": "TRAINING",
        "MLFramework": "PyTorch 1.8",
        "Processor": "GPU",
        "ProgrammingLang": "Python3.6",
        "ReleaseNotes": "PyTorch 1.8.1 training image version",
        "VendorGuidance": "STABLE",
    }


@pytest.mark.parametrize(
    ("keyword", "value", "cfn"),
    [
        ("job_type", "INFERENCE", "JobType"),
        ("job_type", "NOTEBOOK_KERNEL", "JobType"),
        ("processor", "CPU", "Processor"),
        ("vendor_guidance", "TO_BE_ARCHIVED", "VendorGuidance"),
        ("vendor_guidance", "NOT_PROVIDED", "VendorGuidance"),
        ("vendor_guidance", VendorGuidance.ARCHIVED, "VendorGuidance"),
    ],
)
def test_enum_keywords_accept_members_and_cloudformation_strings(
    stack: cdk.Stack, keyword: str, value: str, cfn: str
) -> None:
    ImageVersion(stack, "V", image=Image(stack, "Image", image_name="i"), base_image=DLC, **{keyword: value})  # type: ignore[arg-type]
    (version,) = versions_of(Template.from_stack(stack)).values()
    assert version["Properties"][cfn] == str(value)


def test_only_given_properties_are_rendered(stack: cdk.Stack) -> None:
    ImageVersion(stack, "V", image=Image(stack, "Image", image_name="i"), base_image=DLC)
    (version,) = versions_of(Template.from_stack(stack)).values()
    assert set(version["Properties"]) == {"ImageName", "BaseImage"}


def test_attributes_are_the_resource_attributes(stack: cdk.Stack) -> None:
    image = Image(stack, "Image", image_name="i")
    version = image.add_version("V1", base_image=DLC)
    logical_id = stack.get_logical_id(version.node.default_child)  # type: ignore[arg-type]
    assert stack.resolve(version.image_version_arn) == {"Fn::GetAtt": [logical_id, "ImageVersionArn"]}
    assert stack.resolve(version.version) == {"Fn::GetAtt": [logical_id, "Version"]}
    assert stack.resolve(version.container_image) == {"Fn::GetAtt": [logical_id, "ContainerImage"]}
    assert stack.resolve(version.image_arn) == {"Fn::GetAtt": [logical_id, "ImageArn"]}
    assert version.image is image


def test_versions_are_chained_in_declaration_order_whichever_way_they_are_made(stack: cdk.Stack) -> None:
    image = Image(stack, "Image", image_name="i")
    v1 = image.add_version("V1", base_image=DLC)
    v2 = ImageVersion(stack, "V2", image=image, base_image=DLC)
    v3 = image.add_version("V3", base_image=DLC)
    template = Template.from_stack(stack)
    ids = [stack.get_logical_id(v.node.default_child) for v in (v1, v2, v3)]  # type: ignore[arg-type]
    image_id = stack.get_logical_id(image.node.default_child)  # type: ignore[arg-type]
    versions = versions_of(template)
    # The first version names the image; each later one only its predecessor, which implies the image
    # (and each its base image check, tested in test_base_image_check).
    assert depends_on(versions[ids[0]]) == [image_id]
    assert depends_on(versions[ids[1]]) == [ids[0]]
    assert depends_on(versions[ids[2]]) == [ids[1]]


def test_versions_of_different_images_are_not_chained(stack: cdk.Stack) -> None:
    a = Image(stack, "A", image_name="a")
    b = Image(stack, "B", image_name="b")
    va = a.add_version("V1", base_image=DLC)
    vb = b.add_version("V1", base_image=DLC)
    versions = versions_of(Template.from_stack(stack))
    assert depends_on(versions[stack.get_logical_id(vb.node.default_child)]) == [  # type: ignore[arg-type]
        stack.get_logical_id(b.node.default_child)  # type: ignore[arg-type]
    ]
    assert stack.get_logical_id(va.node.default_child) in versions  # type: ignore[arg-type]


def test_the_same_alias_on_two_versions_of_one_image_is_refused(stack: cdk.Stack) -> None:
    image = Image(stack, "Image", image_name="i")
    image.add_version("V1", base_image=DLC, alias="stable")
    with pytest.raises(ValidationError, match=r"'Stack/Image/V2'.*alias 'stable'.*'Stack/Image/V1'"):
        image.add_version("V2", base_image=DLC, alias="stable")


def test_the_same_alias_on_versions_of_different_images_is_allowed(stack: cdk.Stack) -> None:
    Image(stack, "A", image_name="a").add_version("V1", base_image=DLC, alias="stable")
    Image(stack, "B", image_name="b").add_version("V1", base_image=DLC, alias="stable")
    assert len(versions_of(Template.from_stack(stack))) == 2


def test_from_image_version_arn_parses_every_attribute(stack: cdk.Stack) -> None:
    arn = "arn:aws-us-gov:sagemaker:us-gov-west-1:444455556666:image-version/shared-image/12"
    imported = ImageVersion.from_image_version_arn(stack, "Imported", arn)
    assert imported.image_version_arn == arn
    assert imported.version == 12
    assert imported.image.image_name == "shared-image"
    assert imported.image_arn == "arn:aws-us-gov:sagemaker:us-gov-west-1:444455556666:image/shared-image"
    assert imported.image.image_arn == imported.image_arn
    assert imported.env.region == "us-gov-west-1"  # type: ignore[attr-defined]


def test_from_image_version_arn_refuses_a_token(stack: cdk.Stack) -> None:
    arn = cdk.CfnParameter(stack, "Arn").value_as_string
    with pytest.raises(ValidationError, match=r"unresolved token.*literal ARN"):
        ImageVersion.from_image_version_arn(stack, "Imported", arn)


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:sagemaker:us-east-1:111122223333:image-version/shared-image",
        "arn:aws:sagemaker:us-east-1:111122223333:image-version/shared-image/0",
        "arn:aws:sagemaker:us-east-1:111122223333:image-version/shared-image/v1",
        "arn:aws:sagemaker:us-east-1:111122223333:image-version/shared-image/\u0661",  # Arabic-Indic 1
        "arn:aws:sagemaker:us-east-1:111122223333:image/shared-image",
        "arn:aws:sagemaker:us-east-1:111122223333:image-version/shared-image/01",
        "arn:aws:sagemaker:us-east-1:111122223333:image-version/shared-image/2147483648",
        "arn:aws:sagemaker:us-east-1:111122223333:image-version/shared-image/" + "9" * 23,
    ],
)
def test_from_image_version_arn_refuses_malformed_arns(stack: cdk.Stack, arn: str) -> None:
    with pytest.raises(ValidationError, match=r"image-version/<image-name>/<version>|image-version/<name>"):
        ImageVersion.from_image_version_arn(stack, "Imported", arn)


def test_from_image_version_arn_accepts_the_largest_version(stack: cdk.Stack) -> None:
    arn = "arn:aws:sagemaker:us-east-1:111122223333:image-version/shared-image/2147483647"
    assert ImageVersion.from_image_version_arn(stack, "Imported", arn).version == 2**31 - 1


def test_from_image_version_arn_names_itself_when_the_image_part_is_malformed(stack: cdk.Stack) -> None:
    arn = "arn:aws:sagemaker:us-east-1:111122223333:image-version/-bad-/3"
    with pytest.raises(ValidationError) as error:
        ImageVersion.from_image_version_arn(stack, "Pinned", arn)
    assert str(error.value).startswith(
        "ImageVersion.from_image_version_arn 'Pinned': invalid image name '-bad-'"
    )


@pytest.mark.parametrize(
    ("keyword", "value", "expected"),
    [
        ("aliases", "stable", "expected a list of alias strings, such as ['stable'], got str"),
        ("aliases", "latest", "expected a list of alias strings, such as ['latest'], got str"),
        ("aliases", ["latest", 7], "expected a list of alias strings, got int"),
        ("alias", ["latest"], "expected one alias as a string, got list"),
        ("alias", 3, "expected one alias as a string, got int"),
    ],
)
def test_alias_keywords_of_the_wrong_type_are_named(
    stack: cdk.Stack, keyword: str, value: object, expected: str
) -> None:
    image = Image(stack, "Image", image_name="img")
    with pytest.raises(ValidationError) as error:
        image.add_version("V1", base_image=DLC, **{keyword: value})  # type: ignore[arg-type]
    message = str(error.value)
    assert message.startswith("ImageVersion 'Stack/Image/V1': invalid ")
    shown = value[-1] if isinstance(value, list) and keyword == "aliases" else value
    assert keyword in message and expected in message and repr(shown) in message


def test_a_list_token_passes_as_aliases_unchecked(stack: cdk.Stack) -> None:
    aliases = cdk.CfnParameter(stack, "Aliases", type="CommaDelimitedList").value_as_list
    image = Image(stack, "Image", image_name="img")
    image.add_version("V1", base_image=DLC, aliases=aliases)
    image.add_version("V2", base_image=DLC, aliases=aliases, alias="v2")
    template = Template.from_stack(stack)
    for resource in template.find_resources("Custom::SageMakerImageVersionAliases").values():
        assert resource["Properties"]["Aliases"] == {"Ref": "Aliases"}
