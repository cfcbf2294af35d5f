"""Task definition templates in the configuration: the environment's values merged over the
template, and every problem named by its service, environment and field, before any
execution starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bluegreen.config import ServiceCatalog
from bluegreen.errors import ConfigurationInvalid, ServiceNotConfigured
from bluegreen.models import TEMPLATE_MAX_BYTES

from tests.unit.builders import SERVICES_FILE

TEMPLATE = Path(__file__).with_name("template_services.toml").read_text()


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigurationInvalid) as raised:
        ServiceCatalog.parse(text, "services.toml")
    return raised.value.problems


def variables(container: dict[str, object]) -> list[tuple[object, object]]:
    listed = container.get("environment")
    assert isinstance(listed, list)
    return [(v["name"], v["value"]) for v in listed]


def test_each_environment_renders_from_the_template_with_its_own_values_merged_in() -> None:
    dev, prod = ServiceCatalog.parse(TEMPLATE, "services.toml").pipeline("shop")

    assert dev.task_definition is not None
    assert prod.task_definition is not None
    assert (dev.task_definition["cpu"], dev.task_definition["memory"]) == ("256", "512")
    assert (prod.task_definition["cpu"], prod.task_definition["memory"]) == ("512", "1024")
    dev_web, dev_proxy = dev.task_definition["containerDefinitions"]
    prod_web, prod_proxy = prod.task_definition["containerDefinitions"]
    # Variables merge by name: the environment's win, the template's others stay in order.
    assert variables(dev_web) == [
        ("MODE", "development"),
        ("LOG_LEVEL", "info"),
        ("FEATURE_X", "on"),
    ]
    assert variables(prod_web) == [("MODE", "production"), ("LOG_LEVEL", "info")]
    assert dev_web["logConfiguration"]["options"] == {
        "awslogs-group": "/ecs/dev/shop",
        "awslogs-region": "us-east-1",
        "awslogs-stream-prefix": "web",
    }
    assert prod_web["logConfiguration"]["options"]["awslogs-group"] == "/ecs/shop"
    assert (
        dev_proxy == prod_proxy == {"name": "proxy", "image": "<IMAGE2_NAME>", "essential": False}
    )
    for environment in (dev, prod):
        assert environment.images == {"IMAGE1_NAME": "shop", "IMAGE2_NAME": "shop-proxy"}
        assert environment.repositories == ["shop", "shop-proxy"]


def test_the_family_may_differ_by_environment() -> None:
    text = TEMPLATE.replace('cpu = "256"\n', 'cpu = "256"\nfamily = "shop-dev"\n')

    dev, prod = ServiceCatalog.parse(text, "services.toml").pipeline("shop")

    assert dev.task_definition is not None
    assert prod.task_definition is not None
    assert (dev.task_definition["family"], prod.task_definition["family"]) == ("shop-dev", "shop")


def test_a_push_of_either_repository_deploys_the_service_in_its_first_environment() -> None:
    catalog = ServiceCatalog.parse(TEMPLATE, "services.toml")
    dev = catalog.named("shop", "dev")

    assert catalog.fed_by("shop") == [dev]
    assert catalog.fed_by("shop-proxy") == [dev]
    with pytest.raises(ServiceNotConfigured, match=r"configured: shop, shop-proxy"):
        catalog.fed_by("shop-api")


def test_one_repository_feeds_every_service_built_from_it_in_order() -> None:
    services = SERVICES_FILE.read_text()
    worker = services.replace("services.demo-web", "services.demo-worker")

    catalog = ServiceCatalog.parse(services + worker, "services.toml")

    assert [s.name for s in catalog.fed_by("demo-web")] == ["demo-web", "demo-worker"]
    assert catalog.for_repository("demo-web").name == "demo-web"


def test_the_configuration_in_json_renders_the_same() -> None:
    import tomllib

    from_json = ServiceCatalog.parse(json.dumps(tomllib.loads(TEMPLATE)), "services.json")

    assert from_json.services == ServiceCatalog.parse(TEMPLATE, "services.toml").services


PROXY_IMAGE = 'image = "<IMAGE2_NAME>"'
PROXY_REPOSITORY = 'IMAGE2_NAME = "shop-proxy"\n'
TEMPLATE_AT = "services.shop.task_definition"
DEV_AT = "services.shop.environments.dev.task_definition"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            PROXY_IMAGE,
            'image = "<IMAGE3_NAME>"',
            [
                f"{TEMPLATE_AT}.containerDefinitions[proxy].image: unknown placeholder "
                "<IMAGE3_NAME>: images names no repository for it "
                '(images.IMAGE3_NAME = "<repository>")',
                "services.shop.images.IMAGE2_NAME: no container's image is <IMAGE2_NAME>",
            ],
            id="a placeholder with no repository",
        ),
        pytest.param(
            PROXY_REPOSITORY,
            'IMAGE2_NAME = ""\n',
            ["services.shop.images.IMAGE2_NAME: String should have at least 1 character (got '')"],
            id="a placeholder's repository left empty",
        ),
        pytest.param(
            PROXY_REPOSITORY,
            'IMAGE2_NAME = "public.ecr.aws/nginx/nginx"\n',
            [
                "services.shop.images.IMAGE2_NAME: 'public.ecr.aws/nginx/nginx' is an image of "
                "another registry (public.ecr.aws): a placeholder stands for a repository of "
                "the app's ECR, named without its registry"
            ],
            id="a placeholder standing for another registry's image",
        ),
        pytest.param(
            PROXY_IMAGE,
            'image = "<IMAGE2_NAME>:v1"',
            [
                f"{TEMPLATE_AT}.containerDefinitions[proxy].image: '<IMAGE2_NAME>:v1': a "
                "placeholder is the whole image, such as <IMAGE1_NAME>",
                "services.shop.images.IMAGE2_NAME: no container's image is <IMAGE2_NAME>",
            ],
            id="a placeholder that is part of an image",
        ),
        pytest.param(
            'value = "info"',
            'value = "<IMAGE1_NAME>"',
            [
                f"{TEMPLATE_AT}.containerDefinitions[web].environment[LOG_LEVEL].value: a "
                "placeholder stands only for a container's whole image"
            ],
            id="a placeholder outside an image",
        ),
        pytest.param(
            PROXY_REPOSITORY,
            'IMAGE2_NAME = "shop"\n',
            [
                "services.shop.images.IMAGE2_NAME: 'shop' is already images.IMAGE1_NAME's: one "
                "placeholder per repository"
            ],
            id="two placeholders of one repository",
        ),
        pytest.param(
            'repository = "shop"',
            'repository = "shop-api"',
            [
                "services.shop.repository: 'shop-api' has no placeholder in services.shop.images "
                "(a push of it would change nothing)"
            ],
            id="the service's repository without a placeholder",
        ),
        pytest.param(
            'container = "web"',
            'container = "api"',
            [
                "services.shop.container: 'api' is not a container of the task definition "
                "template (has: web, proxy)"
            ],
            id="the service's container missing from the template",
        ),
        pytest.param(
            'family = "shop"\n',
            "",
            [f"{TEMPLATE_AT}.family: required: up to 255 letters, digits, hyphens and underscores"],
            id="no family",
        ),
        pytest.param(
            'name = "proxy"',
            'name = "web"',
            [f"{TEMPLATE_AT}.containerDefinitions[1].name: 'web' names two containers"],
            id="two containers of one name",
        ),
        pytest.param(
            'name = "proxy"\n',
            "",
            [
                f"{TEMPLATE_AT}.containerDefinitions[1].name: required: up to 255 letters, "
                "digits, hyphens and underscores"
            ],
            id="a container without a name",
        ),
        pytest.param(
            PROXY_IMAGE,
            "",
            [
                f"{TEMPLATE_AT}.containerDefinitions[proxy].image: required: a placeholder such "
                "as <IMAGE1_NAME>",
                "services.shop.images.IMAGE2_NAME: no container's image is <IMAGE2_NAME>",
            ],
            id="a container without an image",
        ),
        pytest.param(
            'family = "shop"\n',
            'family = "shop"\nrevision = 3\n',
            [f"{TEMPLATE_AT}.revision: ECS assigns it when it registers a revision: remove it"],
            id="a field of a described revision",
        ),
        pytest.param(
            "essential = false",
            "essential = false\nrestart = true",
            [
                f"{TEMPLATE_AT}.containerDefinitions[proxy].restart: not a field "
                "RegisterTaskDefinition takes"
            ],
            id="a field ECS does not know",
        ),
        pytest.param(
            "containerPort = 8080",
            'containerPort = "8080"',
            [
                f"{TEMPLATE_AT}.containerDefinitions[web].portMappings[0].containerPort: must be "
                "an integer, not a string (got 8080)"
            ],
            id="a field of the wrong type for ECS",
        ),
        pytest.param(
            'cpu = "512"',
            "cpu = 512",
            [f"{TEMPLATE_AT}.cpu: must be a string, not an integer (got 512)"],
            id="the task's cpu as a number",
        ),
    ],
)
def test_a_template_problem_names_its_field_once_for_every_environment(
    old: str, new: str, expected: list[str]
) -> None:
    assert old in TEMPLATE
    assert problems(TEMPLATE.replace(old, new, 1)) == expected


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (
            "public.ecr.aws/nginx/nginx:1.27",
            "'public.ecr.aws/nginx/nginx:1.27' is an image of another registry than the app's "
            "ECR: every image comes from the app's ECR through a placeholder (an ECR pull "
            "through cache rule copies a public image there)",
        ),
        (
            "nginx:1.27",  # Docker Hub's
            "'nginx:1.27' is an image of another registry than the app's ECR: every image "
            "comes from the app's ECR through a placeholder (an ECR pull through cache rule "
            "copies a public image there)",
        ),
        (
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop-proxy:v1",
            "'123456789012.dkr.ecr.us-east-1.amazonaws.com/shop-proxy:v1' names an ECR image "
            "itself: write a placeholder (<IMAGE1_NAME>) and map it to its repository in "
            "images, so a push pins it by digest",
        ),
    ],
)
def test_an_image_written_in_the_template_is_refused(image: str, expected: str) -> None:
    text = TEMPLATE.replace(PROXY_IMAGE, f'image = "{image}"').replace(PROXY_REPOSITORY, "")

    assert problems(text) == [f"{TEMPLATE_AT}.containerDefinitions[proxy].image: {expected}"]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "containers.web.environment",
            "containers.worker.environment",
            [
                f"{DEV_AT}.containers.worker: no container 'worker' in the template "
                "(has: web, proxy)"
            ],
            id="a container the template lacks",
        ),
        pytest.param(
            "logConfiguration = {",
            "dockerLabels = { logs = 'none' }\n# ",
            [f"{DEV_AT}.log_group: no container of the template logs with the awslogs log driver"],
            id="a log group and no awslogs container",
        ),
        pytest.param(
            'cpu = "256"',
            "cpu = 256",
            [f"{DEV_AT}.cpu: Input should be a valid string (got 256)"],
            id="the task's cpu as a number",
        ),
        pytest.param(
            'FEATURE_X = "on"',
            "FEATURE_X = 1",
            [
                f"{DEV_AT}.containers.web.environment.FEATURE_X: "
                "Input should be a valid string (got 1)"
            ],
            id="a variable that is not a string",
        ),
        pytest.param(
            'log_group = "/ecs/dev/shop"',
            "memory_reservation = 256",
            [f"{DEV_AT}.memory_reservation: Extra inputs are not permitted"],
            id="a value that cannot be set per environment",
        ),
        pytest.param(
            'log_group = "/ecs/dev/shop"',
            'log_group = "dev logs"',
            [
                f"{DEV_AT}.log_group: String should match pattern "
                "'^[.\\-_/#A-Za-z0-9]{1,512}$' (got 'dev logs')"
            ],
            id="a log group name CloudWatch Logs refuses",
        ),
        pytest.param(
            "approvers = []\n",
            'approvers = []\nimages = { IMAGE1_NAME = "shop-dev" }\n',
            [
                "services.shop.environments.dev.images: every environment runs the same images "
                "(under services.shop.images)"
            ],
            id="images of its own",
        ),
    ],
)
def test_an_environment_problem_names_the_environment_and_its_field(
    old: str, new: str, expected: list[str]
) -> None:
    assert old in TEMPLATE
    assert problems(TEMPLATE.replace(old, new, 1)) == expected


SINGLE = SERVICES_FILE.read_text()


def test_environment_values_need_a_template_to_merge_over() -> None:
    text = TEMPLATE.replace("[services.shop.task_definition]", "[unused]")
    text = text[: text.index("[unused]")] + text[text.index("[services.shop.environments.dev]") :]
    text = text.replace(
        "[services.shop.images]\n" + 'IMAGE1_NAME = "shop"\n' + PROXY_REPOSITORY, ""
    )

    assert problems(text) == [
        f"{DEV_AT}: values for a template, and services.shop has none "
        "(services.shop.task_definition)"
    ]


def test_images_need_a_template() -> None:
    text = SINGLE + '\n[services.demo-web.images]\nIMAGE1_NAME = "demo-web"\n'

    assert problems(text) == [
        "services.demo-web: Value error, images name the placeholders of a task_definition "
        "template: add one"
    ]


def test_a_template_too_large_to_travel_with_each_execution_is_refused() -> None:
    big = "x" * TEMPLATE_MAX_BYTES
    text = TEMPLATE.replace('value = "info"', f'value = "{big}"')

    found = problems(text)

    assert len(found) == 2  # each environment's own template
    for environment in ("dev", "prod"):
        assert any(
            p.startswith(
                f"services.shop.environments.{environment}: Value error, task_definition is "
            )
            and p.endswith(
                f"bytes as JSON, over {TEMPLATE_MAX_BYTES} "
                "(it travels in every execution's document)"
            )
            for p in found
        ), found
