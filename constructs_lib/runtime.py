"""The Lambda runtime of the library's functions, reached in a way every supported aws-cdk-lib has."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_


def newest_python_runtime() -> lambda_.Runtime:
    """Python 3.14 (cdk-nag's AwsSolutions-L1 wants the newest), also where the constant is missing."""
    return lambda_.Runtime("python3.14", lambda_.RuntimeFamily.PYTHON)
