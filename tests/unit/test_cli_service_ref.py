"""Which environment an operator's ``<service>`` means: by name, the service's last one (its
history, lock and recovery are production's); by ``cluster/service``, exactly that one."""

from __future__ import annotations

import pytest
from bluegreen.config import ServiceCatalog
from bluegreen_cli.account import OpsError, service_ref

from tests.unit.test_config import PIPELINE

CATALOG = ServiceCatalog.parse(PIPELINE, "services.toml")


def test_a_services_name_means_its_last_environment() -> None:
    ref = service_ref(CATALOG, "shop")

    assert (ref.name, ref.key, ref.cluster, ref.service) == ("shop", "shop/web", "shop", "web")


def test_cluster_and_service_name_that_environment_even_when_it_is_not_the_last() -> None:
    ref = service_ref(CATALOG, "111111111111:shop-dev/web")

    assert (ref.name, ref.cluster, ref.service) == ("shop", "shop-dev", "web")
    assert ref.key == CATALOG.named("shop", "dev").lock_key


def test_an_unknown_name_lists_every_environment_by_its_key() -> None:
    with pytest.raises(OpsError) as raised:
        service_ref(CATALOG, "nope")

    assert raised.value.exit_code == 2
    assert "shop (111111111111:shop-dev/web), shop (shop/web)" in str(raised.value)
