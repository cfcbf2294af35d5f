"""How operators name a service: by its name (its last environment) or where it runs."""

from __future__ import annotations

import pytest
from bluegreen.config import ServiceCatalog
from bluegreen_cli.account import OpsError, service_ref

from tests.unit.builders import SERVICES_FILE
from tests.unit.test_config import PIPELINE

CATALOG = ServiceCatalog.parse(PIPELINE + "\n" + SERVICES_FILE.read_text(), "services.toml")


def test_a_pipelines_name_means_its_last_environment() -> None:
    ref = service_ref(CATALOG, "shop")

    assert (ref.name, ref.key, ref.cluster) == ("shop", "shop/web", "shop")


def test_an_environment_is_named_by_where_it_runs_in_its_account() -> None:
    ref = service_ref(CATALOG, "111111111111:shop-dev/web")

    assert (ref.name, ref.key, ref.cluster) == ("shop", "111111111111:shop-dev/web", "shop-dev")


def test_an_unknown_service_lists_each_service_once_with_where_each_environment_runs() -> None:
    with pytest.raises(OpsError) as raised:
        service_ref(CATALOG, "nope")

    assert str(raised.value) == (
        "no service named 'nope' (configured: demo-web (demo/web), "
        "shop (dev: 111111111111:shop-dev/web, prod: shop/web))"
    )
    assert raised.value.exit_code == 2
