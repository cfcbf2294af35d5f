"""A small SAM project of its own for testing the local stack's machinery.

The app's real template is exercised too (``test_template_real``); this one keeps each
behaviour (errors, events, HTTP API payloads) observable with a handler written for it.
"""

from __future__ import annotations

import json
import socket
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[3]

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  SenderEmail:
    Type: String
    Default: sender@example.com
  SlackBotTokenSecretName:
    Type: String
    Default: mini/slack-bot-token
  SlackSigningSecretName:
    Type: String
    Default: mini/slack-signing-secret
  SlackApiUrl:
    Type: String
    Default: https://slack.com/api/
  RecordDir:
    Type: String
    Default: /nonexistent
Globals:
  Function:
    Runtime: python3.13
    Handler: app.lambda_handler
    Timeout: 20
    Environment:
      Variables:
        FROM_GLOBALS: "yes"
Resources:
  RecorderFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/recorder/
      Environment:
        Variables:
          RECORD_DIR: !Ref RecordDir
      Events:
        Push:
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [aws.ecr]
              detail-type: [ECR Image Action]
              detail:
                action-type: [PUSH]
                result: [SUCCESS]
        Custom:
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [mini.app]
              detail:
                kind: [{prefix: "wanted"}]
        Nightly:
          # Disabled: a test enables it to see SAM's Schedule event fire.
          Type: Schedule
          Properties:
            Schedule: cron(0 3 * * ? *)
            Enabled: false
        Aborted:
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [aws.states]
              detail-type: [Step Functions Execution Status Change]
              detail:
                status: [ABORTED, TIMED_OUT]
                stateMachineArn: [!Ref WaitMachine]
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/echo/
      MemorySize: 384
      Policies:
        - Statement:
            - Effect: Allow
              # dynamodb:ListTables supports no resource-level permissions.
              Action: dynamodb:ListTables
              Resource: "*"
      Environment:
        Variables:
          TABLE_NAME: !Ref Table
  FailingFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/failing/
  ApiFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/api/
      Events:
        Show:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Method: GET
            Path: /items/{item_id}
        Change:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Method: POST
            Path: /items/{item_id}
  CatchMachine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Name: !Sub ${AWS::StackName}-catch
      DefinitionUri: statemachine/catch.asl.json
      Policies:
        - LambdaInvokePolicy:
            FunctionName: !Ref FailingFunction
      DefinitionSubstitutions:
        FailingFunctionArn: !GetAtt FailingFunction.Arn
  WaitMachine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Name: !Sub ${AWS::StackName}-wait
      Definition:
        StartAt: Hold
        States:
          Hold: {Type: Wait, Seconds: 600, End: true}
  Api:
    Type: AWS::Serverless::HttpApi
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
"""

HANDLERS = {
    "recorder": """
        import json, os, pathlib

        def lambda_handler(event, context):
            folder = pathlib.Path(os.environ["RECORD_DIR"])
            folder.mkdir(parents=True, exist_ok=True)
            # Written aside then renamed: a test reading the folder never sees half a file.
            partial = folder / f"{event['id']}.partial"
            partial.write_text(json.dumps(event))
            os.replace(partial, folder / f"{event['id']}.json")
            return {"recorded": event["id"]}
    """,
    "echo": """
        import os
        import boto3

        COLD_STARTS = []
        COLD_STARTS.append(1)

        def lambda_handler(event, context):
            tables = boto3.client("dynamodb").list_tables()["TableNames"]
            return {
                "event": event,
                "cold_starts": len(COLD_STARTS),
                "env": {k: os.environ.get(k) for k in (
                    "FROM_GLOBALS", "TABLE_NAME", "AWS_ENDPOINT_URL", "AWS_REGION",
                    "AWS_PROFILE", "AWS_LAMBDA_FUNCTION_NAME", "POWERTOOLS_TRACE_DISABLED",
                )},
                "context": {
                    "function_name": context.function_name,
                    "invoked_function_arn": context.invoked_function_arn,
                    "memory_limit_in_mb": context.memory_limit_in_mb,
                    "aws_request_id": context.aws_request_id,
                    "remaining_ms": context.get_remaining_time_in_millis(),
                },
                "tables": tables,
            }
    """,
    "failing": """
        class DeploymentBlocked(Exception):
            pass

        def lambda_handler(event, context):
            raise DeploymentBlocked(f"blocked: {event.get('why', 'no reason')}")
    """,
    "api": """
        import base64, json

        def lambda_handler(event, context):
            if event["pathParameters"]["item_id"] == "boom":
                raise RuntimeError("secret internals")
            return {
                "statusCode": 201 if event["requestContext"]["http"]["method"] == "POST" else 200,
                "headers": {
                    "Content-Type": "application/json",
                    "X-Item": event["pathParameters"]["item_id"],
                },
                "cookies": ["seen=1; Path=/", "theme=dark"],
                "body": json.dumps(event),
            }
    """,
}

CATCH_ASL = {
    "StartAt": "Fail step",
    "States": {
        "Fail step": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${FailingFunctionArn}", "Payload.$": "$"},
            "Catch": [
                {"ErrorEquals": ["DeploymentBlocked"], "ResultPath": "$.error", "Next": "Caught"}
            ],
            "End": True,
        },
        "Caught": {"Type": "Pass", "End": True},
    },
}


def write_project(root: Path) -> Path:
    """The small project in ``root``; returns ``root``."""
    (root / "template.yaml").write_text(TEMPLATE)
    for name, source in HANDLERS.items():
        folder = root / "functions" / name
        folder.mkdir(parents=True)
        (folder / "app.py").write_text(textwrap.dedent(source))
    (root / "statemachine").mkdir()
    (root / "statemachine" / "catch.asl.json").write_text(json.dumps(CATCH_ASL))
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def wait_for(condition: Any, timeout: float = 15.0, interval: float = 0.1) -> Any:
    """Poll until ``condition()`` is truthy; its value, or AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
