"""Local copies of the AWS managed policies the template attaches.

AWS owns these documents; a role that attaches one gets exactly these statements. Only the
policies the app uses are here: a template that attaches another one is refused at start,
so the local stack never guesses what a policy allows.
"""

from __future__ import annotations

from typing import Any

_LOGS = {
    "Effect": "Allow",
    "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
    "Resource": "*",
}

_XRAY = {
    "Effect": "Allow",
    "Action": [
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:GetSamplingStatisticSummaries",
    ],
    "Resource": ["*"],
}

AWS_MANAGED_POLICIES: dict[str, dict[str, Any]] = {
    "AWSLambdaBasicExecutionRole": {"Version": "2012-10-17", "Statement": [_LOGS]},
    "AWSXrayWriteOnlyAccess": {"Version": "2012-10-17", "Statement": [_XRAY]},
    "AWSXRayDaemonWriteAccess": {"Version": "2012-10-17", "Statement": [_XRAY]},
    "AWSLambdaVPCAccessExecutionRole": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSubnets",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                "Resource": "*",
            }
        ],
    },
}


def managed_policy_name(arn: str) -> str:
    """``arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole`` -> its name."""
    return arn.rsplit("/", 1)[-1]
